package sandbox

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// JobInfo is one sandbox container on the engine.
type JobInfo struct {
	JobID       string    `json:"job_id"`
	ContainerID string    `json:"container_id"`
	Role        string    `json:"role"`
	Language    string    `json:"language"`
	Image       string    `json:"image"`
	State       string    `json:"state"`
	Created     time.Time `json:"created"`
	Host        string    `json:"host"`
	PID         int       `json:"pid"`
}

// PS lists the sandbox's containers (all states), oldest first.
func (s *Sandbox) PS(ctx context.Context) ([]JobInfo, error) {
	list, err := s.exec.cli.ContainerList(ctx, client.ContainerListOptions{
		All: true, Filters: make(client.Filters).Add("label", LabelSandbox+"=1"),
	})
	if err != nil {
		return nil, s.exec.engineErr("list sandbox containers", err)
	}
	jobs := make([]JobInfo, 0, len(list.Items))
	for _, c := range list.Items {
		pid, _ := strconv.Atoi(c.Labels[LabelPID])
		jobs = append(jobs, JobInfo{
			JobID: c.Labels[LabelJob], ContainerID: c.ID, Role: c.Labels[LabelRole],
			Language: c.Labels[LabelLang], Image: c.Image, State: string(c.State),
			Created: time.Unix(c.Created, 0), Host: c.Labels[LabelHost], PID: pid,
		})
	}
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].Created.Before(jobs[j].Created) })
	return jobs, nil
}

// Cleanup removes the labelled containers and volumes left behind: those
// created on this host by a process that no longer exists (a crash), and
// this Sandbox's own that belong to no running job (a removal that failed
// while the engine was away). Jobs of other live processes (a daemon and a
// CLI side by side) and of other hosts sharing the engine are left alone.
// It returns how many containers and volumes it removed.
func (s *Sandbox) Cleanup(ctx context.Context) (containers, volumes int, err error) {
	e := s.exec
	orphan := func(labels map[string]string) bool {
		if labels[LabelHost] != e.host {
			return false
		}
		pid, perr := strconv.Atoi(labels[LabelPID])
		if perr != nil || pid <= 0 {
			return true
		}
		if pid == e.pid {
			return labels[LabelInstance] == e.instance && !e.running(labels[LabelJob])
		}
		return !processAlive(pid)
	}
	filter := make(client.Filters).Add("label", LabelSandbox+"=1")
	list, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return 0, 0, e.engineErr("list sandbox containers", err)
	}
	var errs []error
	for _, c := range list.Items {
		if !orphan(c.Labels) {
			continue
		}
		_, rerr := e.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		switch {
		case rerr == nil:
			containers++
		case cerrdefs.IsNotFound(rerr), cerrdefs.IsConflict(rerr):
			// Gone already, or its removal is under way.
		default:
			errs = append(errs, fmt.Errorf("remove container %.12s: %w", c.ID, rerr))
		}
	}
	vols, err := e.cli.VolumeList(ctx, client.VolumeListOptions{Filters: filter})
	if err != nil {
		return containers, 0, e.engineErr("list sandbox volumes", err)
	}
	for _, v := range vols.Items {
		if !orphan(v.Labels) {
			continue
		}
		_, rerr := e.cli.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true})
		switch {
		case rerr == nil:
			volumes++
		case !cerrdefs.IsNotFound(rerr) && !strings.Contains(rerr.Error(), "in use"):
			errs = append(errs, fmt.Errorf("remove volume %s: %w", v.Name, rerr))
		}
	}
	return containers, volumes, errors.Join(errs...)
}

// processAlive reports whether pid exists on this host.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
