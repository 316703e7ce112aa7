package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Limits that keep Read from allocating absurd amounts on a corrupt file; a
// tiny test model is far below all of them.
const (
	maxString  = 1 << 20
	maxArray   = 1 << 24
	maxCount   = 1 << 20
	maxTensor  = 1 << 30
	maxDimsLen = 4
	// maxModelTensor bounds a tensor's elements in a real model's header.
	maxModelTensor = 1 << 40
)

// Read parses a whole GGUF v3 file, tensor data included. It is the reader
// that checks what WriteTo wrote: it rejects what llama.cpp would reject
// (bad magic or version, misaligned or overlapping tensor offsets).
func Read(r io.Reader) (*File, error) {
	d := &decoder{r: bufio.NewReaderSize(r, 64<<10)}
	f, err := d.file()
	if err != nil {
		return nil, fmt.Errorf("gguf: read at byte %d: %w", d.n, err)
	}
	return f, nil
}

type decoder struct {
	r          *bufio.Reader
	n          int64
	buf        [8]byte
	headerOnly bool // real model files: any tensor type, large tensors
}

func (d *decoder) full(p []byte) error {
	n, err := io.ReadFull(d.r, p)
	d.n += int64(n)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func (d *decoder) u8() (uint8, error) {
	err := d.full(d.buf[:1])
	return d.buf[0], err
}

func (d *decoder) u16() (uint16, error) {
	err := d.full(d.buf[:2])
	return binary.LittleEndian.Uint16(d.buf[:2]), err
}

func (d *decoder) u32() (uint32, error) {
	err := d.full(d.buf[:4])
	return binary.LittleEndian.Uint32(d.buf[:4]), err
}

func (d *decoder) u64() (uint64, error) {
	err := d.full(d.buf[:8])
	return binary.LittleEndian.Uint64(d.buf[:8]), err
}

func (d *decoder) str() (string, error) {
	n, err := d.u64()
	if err != nil {
		return "", err
	}
	if n > maxString {
		return "", fmt.Errorf("string of %d bytes is too long", n)
	}
	b := make([]byte, n)
	if err := d.full(b); err != nil {
		return "", err
	}
	return string(b), nil
}

// ReadHeader parses a GGUF v3 file's metadata and tensor descriptions but
// not the tensor data: what a planner needs from a model file of many
// gigabytes, read in a few milliseconds. Tensor types are not checked
// (real models are quantised) and each Tensor's Data stays nil.
func ReadHeader(r io.Reader) (*File, error) {
	d := &decoder{r: bufio.NewReaderSize(r, 64<<10), headerOnly: true}
	f, _, err := d.header()
	if err != nil {
		return nil, fmt.Errorf("gguf: read header at byte %d: %w", d.n, err)
	}
	return f, nil
}

func (d *decoder) file() (*File, error) {
	f, offsets, err := d.header()
	if err != nil {
		return nil, err
	}
	return f, d.data(f, offsets)
}

// header reads everything before the tensor data, and each tensor's offset.
func (d *decoder) header() (*File, []uint64, error) {
	var magic [4]byte
	if err := d.full(magic[:]); err != nil {
		return nil, nil, err
	}
	if string(magic[:]) != Magic {
		return nil, nil, fmt.Errorf("magic %q is not %q", magic[:], Magic)
	}
	version, err := d.u32()
	if err != nil {
		return nil, nil, err
	}
	if version != Version {
		return nil, nil, fmt.Errorf("version %d is not %d", version, Version)
	}
	nTensors, err := d.u64()
	if err != nil {
		return nil, nil, err
	}
	nKV, err := d.u64()
	if err != nil {
		return nil, nil, err
	}
	if nTensors > maxCount || nKV > maxCount {
		return nil, nil, fmt.Errorf("%d tensors and %d keys is implausible", nTensors, nKV)
	}
	f := &File{}
	for range nKV {
		key, err := d.str()
		if err != nil {
			return nil, nil, err
		}
		v, err := d.value()
		if err != nil {
			return nil, nil, fmt.Errorf("key %s: %w", key, err)
		}
		f.KV = append(f.KV, KV{Key: key, Value: v})
	}
	offsets := make([]uint64, 0, nTensors)
	for range nTensors {
		t, off, err := d.tensorInfo()
		if err != nil {
			return nil, nil, err
		}
		f.Tensors = append(f.Tensors, t)
		offsets = append(offsets, off)
	}
	return f, offsets, nil
}

// data reads the tensor data that follows the header.
func (d *decoder) data(f *File, offsets []uint64) error {
	align, err := f.alignment()
	if err != nil {
		return err
	}
	if err := d.skip(alignUp(uint64(d.n), align) - uint64(d.n)); err != nil {
		return fmt.Errorf("padding before data: %w", err)
	}
	var pos uint64
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if offsets[i]%align != 0 || offsets[i] < pos {
			return fmt.Errorf("tensor %s at offset %d is misaligned or overlaps the previous one (ends at %d)", t.Name, offsets[i], pos)
		}
		if err := d.skip(offsets[i] - pos); err != nil {
			return err
		}
		size, _ := t.Type.size()
		n := t.Elements() * uint64(size)
		if n > maxTensor {
			return fmt.Errorf("tensor %s of %d bytes is too large", t.Name, n)
		}
		t.Data = make([]byte, n)
		if err := d.full(t.Data); err != nil {
			return fmt.Errorf("tensor %s data: %w", t.Name, err)
		}
		pos = offsets[i] + n
	}
	return nil
}

func (d *decoder) skip(n uint64) error {
	m, err := io.CopyN(io.Discard, d.r, int64(n))
	d.n += m
	if err != nil {
		return io.ErrUnexpectedEOF
	}
	return nil
}

func (d *decoder) tensorInfo() (Tensor, uint64, error) {
	var t Tensor
	var err error
	if t.Name, err = d.str(); err != nil {
		return t, 0, err
	}
	nDims, err := d.u32()
	if err != nil {
		return t, 0, err
	}
	if nDims == 0 || nDims > maxDimsLen {
		return t, 0, fmt.Errorf("tensor %s has %d dimensions", t.Name, nDims)
	}
	elements := uint64(1)
	for range nDims {
		dim, err := d.u64()
		if err != nil {
			return t, 0, err
		}
		limit := uint64(maxTensor)
		if d.headerOnly {
			limit = maxModelTensor
		}
		if dim == 0 || dim > limit || elements > limit/dim {
			return t, 0, fmt.Errorf("tensor %s has an implausible dimension %d", t.Name, dim)
		}
		elements *= dim
		t.Dims = append(t.Dims, dim)
	}
	typ, err := d.u32()
	if err != nil {
		return t, 0, err
	}
	t.Type = TensorType(typ)
	if _, err := t.Type.size(); err != nil && !d.headerOnly {
		return t, 0, fmt.Errorf("tensor %s: %w", t.Name, err)
	}
	off, err := d.u64()
	return t, off, err
}

func (d *decoder) value() (any, error) {
	t, err := d.u32()
	if err != nil {
		return nil, err
	}
	if valueType(t) != typeArray {
		return d.scalar(valueType(t))
	}
	et, err := d.u32()
	if err != nil {
		return nil, err
	}
	n, err := d.u64()
	if err != nil {
		return nil, err
	}
	if n > maxArray {
		return nil, fmt.Errorf("array of %d elements is too long", n)
	}
	switch valueType(et) {
	case typeUint8:
		return readArray[uint8](d, et, n)
	case typeInt8:
		return readArray[int8](d, et, n)
	case typeUint16:
		return readArray[uint16](d, et, n)
	case typeInt16:
		return readArray[int16](d, et, n)
	case typeUint32:
		return readArray[uint32](d, et, n)
	case typeInt32:
		return readArray[int32](d, et, n)
	case typeFloat32:
		return readArray[float32](d, et, n)
	case typeBool:
		return readArray[bool](d, et, n)
	case typeString:
		return readArray[string](d, et, n)
	case typeUint64:
		return readArray[uint64](d, et, n)
	case typeInt64:
		return readArray[int64](d, et, n)
	case typeFloat64:
		return readArray[float64](d, et, n)
	}
	return nil, fmt.Errorf("array of unknown type %d", et)
}

func readArray[T any](d *decoder, et uint32, n uint64) ([]T, error) {
	out := make([]T, 0, min(n, 4096))
	for range n {
		v, err := d.scalar(valueType(et))
		if err != nil {
			return nil, err
		}
		out = append(out, v.(T))
	}
	return out, nil
}

func (d *decoder) scalar(t valueType) (any, error) {
	switch t {
	case typeUint8:
		return d.u8()
	case typeInt8:
		v, err := d.u8()
		return int8(v), err
	case typeUint16:
		return d.u16()
	case typeInt16:
		v, err := d.u16()
		return int16(v), err
	case typeUint32:
		return d.u32()
	case typeInt32:
		v, err := d.u32()
		return int32(v), err
	case typeFloat32:
		v, err := d.u32()
		return math.Float32frombits(v), err
	case typeBool:
		v, err := d.u8()
		if err == nil && v > 1 {
			return nil, fmt.Errorf("bool byte %d is neither 0 nor 1", v)
		}
		return v == 1, err
	case typeString:
		return d.str()
	case typeUint64:
		return d.u64()
	case typeInt64:
		v, err := d.u64()
		return int64(v), err
	case typeFloat64:
		v, err := d.u64()
		return math.Float64frombits(v), err
	}
	return nil, fmt.Errorf("unknown value type %d", t)
}
