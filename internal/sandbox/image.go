package sandbox

import (
	"context"
	"fmt"
	"sort"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// ImageStatus says whether an image is on the engine.
type ImageStatus struct {
	Image   string `json:"image"`
	Present bool   `json:"present"`
	ID      string `json:"id,omitempty"`
	Size    int64  `json:"size,omitempty"`
	Created string `json:"created,omitempty"`
}

// ImageStatus inspects img (the default image when empty).
func (s *Sandbox) ImageStatus(ctx context.Context, img string) (ImageStatus, error) {
	if img == "" {
		img = s.exec.image
	}
	st := ImageStatus{Image: img}
	info, err := s.exec.cli.ImageInspect(ctx, img)
	switch {
	case err == nil:
		st.Present, st.ID, st.Size, st.Created = true, info.ID, info.Size, info.Created
		return st, nil
	case cerrdefs.IsNotFound(err):
		return st, nil
	default:
		return st, s.exec.engineErr("inspect image "+img, err)
	}
}

// PullProgress is the state of a pull, summed over its layers.
type PullProgress struct {
	Image      string
	Layers     int   // layers seen so far
	LayersDone int   // layers downloaded and extracted, or already present
	Current    int64 // bytes downloaded of the layers with a known size
	Total      int64
	Status     string // the engine's latest status line
}

// EnsureImage pulls img (the default image when empty) unless the engine
// has it, reporting progress to report (which may be nil).
func (s *Sandbox) EnsureImage(ctx context.Context, img string, report func(PullProgress)) error {
	st, err := s.ImageStatus(ctx, img)
	if err != nil || st.Present {
		return err
	}
	return s.Pull(ctx, st.Image, report)
}

// Pull pulls img from its registry. A failed pull is ErrPull (with the
// engine's reason as the cause), or ErrEngine when the engine is gone.
func (s *Sandbox) Pull(ctx context.Context, img string, report func(PullProgress)) error {
	if img == "" {
		img = s.exec.image
	}
	fail := func(err error) error {
		return fmt.Errorf("pull %s: %w: %w", img, ErrPull, err)
	}
	resp, err := s.exec.cli.ImagePull(ctx, img, client.ImagePullOptions{})
	if err != nil {
		if client.IsErrConnectionFailed(err) {
			return s.exec.engineErr("pull "+img, err)
		}
		return fail(err)
	}
	type layer struct {
		current, total int64
		done           bool
	}
	layers := map[string]*layer{}
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return fail(err)
		}
		if msg.Error != nil {
			return fail(msg.Error)
		}
		if msg.ID != "" && !strings.Contains(msg.Status, img) && msg.Status != "" {
			l := layers[msg.ID]
			if l == nil {
				l = &layer{}
				layers[msg.ID] = l
			}
			switch {
			case msg.Status == "Downloading" && msg.Progress != nil:
				l.current, l.total = msg.Progress.Current, msg.Progress.Total
			case msg.Status == "Pull complete", msg.Status == "Already exists":
				l.done = true
				if l.total > 0 {
					l.current = l.total
				}
			}
		}
		if report != nil {
			p := PullProgress{Image: img, Status: msg.Status, Layers: len(layers)}
			ids := make([]string, 0, len(layers))
			for id := range layers {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			for _, id := range ids {
				l := layers[id]
				p.Current += l.current
				p.Total += l.total
				if l.done {
					p.LayersDone++
				}
			}
			report(p)
		}
	}
	st, err := s.ImageStatus(ctx, img)
	if err != nil {
		return err
	}
	if !st.Present {
		return fail(fmt.Errorf("the engine reported no error but has no image %s", img))
	}
	return nil
}
