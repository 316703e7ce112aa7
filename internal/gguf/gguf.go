// Package gguf writes and reads GGUF v3 model files, the format llama.cpp and
// Ollama load, and generates tiny random-weight llama models with it, so that
// tests can run a real Ollama without downloading weights.
//
// Layout (little-endian): magic "GGUF", version u32, tensor count u64, key/value
// count u64, the key/value pairs, the tensor infos (name, n_dims u32, dims u64…,
// type u32, offset u64), padding to the alignment, then the tensor data, each
// tensor starting at a multiple of the alignment and in the order of the infos.
package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// Magic and Version of the files this package writes.
const (
	Magic   = "GGUF"
	Version = 3
)

// DefaultAlignment is used when general.alignment is absent.
const DefaultAlignment = 32

// KeyAlignment is the metadata key holding the data alignment (a uint32).
const KeyAlignment = "general.alignment"

// valueType is the on-disk tag of a metadata value.
type valueType uint32

const (
	typeUint8 valueType = iota
	typeInt8
	typeUint16
	typeInt16
	typeUint32
	typeInt32
	typeFloat32
	typeBool
	typeString
	typeArray
	typeUint64
	typeInt64
	typeFloat64
)

// TensorType is the element type of a tensor; only the unquantised types are
// supported, which is all a test model needs.
type TensorType uint32

// Tensor element types.
const (
	F32 TensorType = 0
	F16 TensorType = 1
)

func (t TensorType) size() (int, error) {
	switch t {
	case F32:
		return 4, nil
	case F16:
		return 2, nil
	}
	return 0, fmt.Errorf("unsupported tensor type %d", t)
}

// KV is one metadata pair. Value is one of uint8, int8, uint16, int16,
// uint32, int32, uint64, int64, float32, float64, bool, string, or a slice of
// one of those; the Go type decides the GGUF type, which llama.cpp checks.
type KV struct {
	Key   string
	Value any
}

// Tensor is one named tensor. Dims are in GGUF order: the first dimension
// varies fastest (a matrix of n rows of m columns has Dims {m, n}). Data holds
// the little-endian elements.
type Tensor struct {
	Name string
	Dims []uint64
	Type TensorType
	Data []byte
}

// Elements is the number of elements the dimensions describe.
func (t Tensor) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// File is a whole GGUF file: metadata in order, then tensors in order.
type File struct {
	KV      []KV
	Tensors []Tensor
}

// Get returns the value of key, or nil.
func (f *File) Get(key string) any {
	for _, kv := range f.KV {
		if kv.Key == key {
			return kv.Value
		}
	}
	return nil
}

// Tensor returns the tensor called name, or false.
func (f *File) Tensor(name string) (Tensor, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}

func (f *File) alignment() (uint64, error) {
	v := f.Get(KeyAlignment)
	if v == nil {
		return DefaultAlignment, nil
	}
	a, ok := v.(uint32)
	if !ok || a == 0 || a%8 != 0 {
		return 0, fmt.Errorf("%s must be a non-zero uint32 multiple of 8, got %T %v", KeyAlignment, v, v)
	}
	return uint64(a), nil
}

// validate checks what llama.cpp would reject later with a less clear message.
func (f *File) validate() error {
	keys := make(map[string]bool, len(f.KV))
	for _, kv := range f.KV {
		if kv.Key == "" {
			return errors.New("empty metadata key")
		}
		if keys[kv.Key] {
			return fmt.Errorf("metadata key %s appears twice", kv.Key)
		}
		keys[kv.Key] = true
		if _, err := typeOf(kv.Value); err != nil {
			return fmt.Errorf("metadata %s: %w", kv.Key, err)
		}
	}
	names := make(map[string]bool, len(f.Tensors))
	for _, t := range f.Tensors {
		if t.Name == "" || names[t.Name] {
			return fmt.Errorf("tensor name %q is empty or repeated", t.Name)
		}
		names[t.Name] = true
		if len(t.Dims) == 0 || len(t.Dims) > 4 {
			return fmt.Errorf("tensor %s has %d dimensions, want 1 to 4", t.Name, len(t.Dims))
		}
		size, err := t.Type.size()
		if err != nil {
			return fmt.Errorf("tensor %s: %w", t.Name, err)
		}
		if want := t.Elements() * uint64(size); uint64(len(t.Data)) != want {
			return fmt.Errorf("tensor %s has %d bytes of data, its dimensions %v need %d", t.Name, len(t.Data), t.Dims, want)
		}
	}
	return nil
}

// WriteTo writes the file to w.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	if err := f.validate(); err != nil {
		return 0, fmt.Errorf("gguf: %w", err)
	}
	align, err := f.alignment()
	if err != nil {
		return 0, fmt.Errorf("gguf: %w", err)
	}
	cw := &countingWriter{w: bufio.NewWriterSize(w, 64<<10)}
	e := encoder{w: cw}
	e.raw([]byte(Magic))
	e.u32(Version)
	e.u64(uint64(len(f.Tensors)))
	e.u64(uint64(len(f.KV)))
	for _, kv := range f.KV {
		e.str(kv.Key)
		e.value(kv.Value)
	}
	var offset uint64
	for _, t := range f.Tensors {
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(offset)
		offset = alignUp(offset+uint64(len(t.Data)), align)
	}
	e.pad(align)
	for _, t := range f.Tensors {
		e.raw(t.Data)
		e.pad(align)
	}
	if e.err == nil {
		e.err = cw.w.(*bufio.Writer).Flush()
	}
	if e.err != nil {
		return cw.n, fmt.Errorf("gguf: write: %w", e.err)
	}
	return cw.n, nil
}

// WriteFile writes the file to path atomically (a temporary file renamed into
// place), so a reader never sees half a model.
func (f *File) WriteFile(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := f.WriteTo(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("gguf: sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("gguf: close %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	return nil
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// encoder writes little-endian values and remembers the first error.
type encoder struct {
	w   *countingWriter
	err error
	buf [8]byte
}

func (e *encoder) raw(p []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(p)
	}
}

func (e *encoder) u8(v uint8)   { e.raw([]byte{v}) }
func (e *encoder) u16(v uint16) { binary.LittleEndian.PutUint16(e.buf[:], v); e.raw(e.buf[:2]) }
func (e *encoder) u32(v uint32) { binary.LittleEndian.PutUint32(e.buf[:], v); e.raw(e.buf[:4]) }
func (e *encoder) u64(v uint64) { binary.LittleEndian.PutUint64(e.buf[:], v); e.raw(e.buf[:8]) }
func (e *encoder) str(s string) { e.u64(uint64(len(s))); e.raw([]byte(s)) }

func (e *encoder) pad(align uint64) {
	if n := alignUp(uint64(e.w.n), align) - uint64(e.w.n); n > 0 {
		e.raw(make([]byte, n))
	}
}

func (e *encoder) value(v any) {
	t, _ := typeOf(v) // validated before writing
	e.u32(uint32(t))
	switch v := v.(type) {
	case []string:
		e.u32(uint32(typeString))
		e.u64(uint64(len(v)))
		for _, s := range v {
			e.str(s)
		}
		return
	case []float32:
		array(e, typeFloat32, v)
		return
	case []int32:
		array(e, typeInt32, v)
		return
	case []uint32:
		array(e, typeUint32, v)
		return
	case []uint8:
		array(e, typeUint8, v)
		return
	case []int8:
		array(e, typeInt8, v)
		return
	case []uint16:
		array(e, typeUint16, v)
		return
	case []int16:
		array(e, typeInt16, v)
		return
	case []uint64:
		array(e, typeUint64, v)
		return
	case []int64:
		array(e, typeInt64, v)
		return
	case []float64:
		array(e, typeFloat64, v)
		return
	case []bool:
		array(e, typeBool, v)
		return
	}
	e.scalar(v)
}

func array[T any](e *encoder, t valueType, vs []T) {
	e.u32(uint32(t))
	e.u64(uint64(len(vs)))
	for _, v := range vs {
		e.scalar(v)
	}
}

func (e *encoder) scalar(v any) {
	switch v := v.(type) {
	case uint8:
		e.u8(v)
	case int8:
		e.u8(uint8(v))
	case uint16:
		e.u16(v)
	case int16:
		e.u16(uint16(v))
	case uint32:
		e.u32(v)
	case int32:
		e.u32(uint32(v))
	case uint64:
		e.u64(v)
	case int64:
		e.u64(uint64(v))
	case float32:
		e.u32(math.Float32bits(v))
	case float64:
		e.u64(math.Float64bits(v))
	case bool:
		if v {
			e.u8(1)
		} else {
			e.u8(0)
		}
	case string:
		e.str(v)
	}
}

func typeOf(v any) (valueType, error) {
	switch v.(type) {
	case uint8:
		return typeUint8, nil
	case int8:
		return typeInt8, nil
	case uint16:
		return typeUint16, nil
	case int16:
		return typeInt16, nil
	case uint32:
		return typeUint32, nil
	case int32:
		return typeInt32, nil
	case float32:
		return typeFloat32, nil
	case bool:
		return typeBool, nil
	case string:
		return typeString, nil
	case uint64:
		return typeUint64, nil
	case int64:
		return typeInt64, nil
	case float64:
		return typeFloat64, nil
	case []uint8, []int8, []uint16, []int16, []uint32, []int32, []float32,
		[]bool, []string, []uint64, []int64, []float64:
		return typeArray, nil
	}
	return 0, fmt.Errorf("unsupported value type %T (use a sized type such as uint32, not int)", v)
}
