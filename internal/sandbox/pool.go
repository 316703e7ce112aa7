package sandbox

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/moby/moby/client"
)

// pool keeps pre-staged jobs for the job shapes seen so far: a volume, the
// files helper and the hardened container, already started, its launcher
// idle until the go line. A job then only pays for copying its files in.
// Each staged job is used once; taking one schedules its replacement.
type pool struct {
	e      *executor
	size   int
	ctx    context.Context // ends at close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	idle    map[poolKey][]warmJob
	filling map[poolKey]int
}

// poolKey is what a staged container fixes at creation: image, command
// (language with its default entry file) and limits.
type poolKey struct {
	image, lang string
	limits      Limits
	exec        bool
}

type warmJob struct {
	id string
	st staged
}

func newPool(e *executor, size int) *pool {
	ctx, cancel := context.WithCancel(context.Background())
	return &pool{e: e, size: size, ctx: ctx, cancel: cancel, idle: map[poolKey][]warmJob{}, filling: map[poolKey]int{}}
}

func keyOf(p prepared) poolKey {
	return poolKey{image: p.image, lang: p.lang.name, limits: p.limits, exec: p.job.ExecScratch}
}

// eligible: a pooled container runs the language's default entry file
// under an id of its own choosing.
func eligible(p prepared) bool { return p.generatedID && p.entry == p.lang.entry && p.warm == nil }

// take gives p a staged job of its shape when one is idle, and refills.
func (pl *pool) take(p prepared) prepared {
	if pl == nil || !eligible(p) {
		return p
	}
	key := keyOf(p)
	pl.mu.Lock()
	list := pl.idle[key]
	var w warmJob
	ok := len(list) > 0
	if ok {
		w = list[len(list)-1]
		pl.idle[key] = list[:len(list)-1]
	}
	pl.mu.Unlock()
	pl.refill(p)
	if !ok {
		return p
	}
	p.job.ID, p.warm = w.id, &w.st
	return p
}

// give returns an unused staged job (its job was refused) to the pool.
func (pl *pool) give(p prepared) {
	if pl == nil || p.warm == nil {
		return
	}
	w := warmJob{id: p.job.ID, st: *p.warm}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if !pl.closed && len(pl.idle[keyOf(p)]) < pl.size {
		pl.idle[keyOf(p)] = append(pl.idle[keyOf(p)], w)
		return
	}
	go pl.discard(w)
}

// refill stages jobs of p's shape in the background until size are idle
// or being staged.
func (pl *pool) refill(p prepared) {
	key := keyOf(p)
	pl.mu.Lock()
	defer pl.mu.Unlock()
	for !pl.closed && len(pl.idle[key])+pl.filling[key] < pl.size {
		pl.filling[key]++
		pl.wg.Add(1)
		go pl.stageOne(key, p)
	}
}

func (pl *pool) stageOne(key poolKey, tmpl prepared) {
	defer pl.wg.Done()
	p := tmpl
	p.job = Job{ID: newJobID(), Language: tmpl.job.Language, ExecScratch: tmpl.job.ExecScratch}
	p.warm, p.tarball = nil, nil
	e := pl.e
	// Tracked while idle, so Cleanup leaves it alone.
	e.track(p.job.ID, true)
	var rm removal
	st, err := e.stage(pl.ctx, p, &rm)
	if err == nil {
		err = pl.start(&st)
	}
	pl.mu.Lock()
	pl.filling[key]--
	keep := err == nil && !pl.closed && len(pl.idle[key]) < pl.size
	if keep {
		pl.idle[key] = append(pl.idle[key], warmJob{id: p.job.ID, st: st})
	}
	pl.mu.Unlock()
	if !keep {
		if st.att != nil {
			st.att.Close()
		}
		pl.discardRemoval(p.job.ID, rm)
	}
}

// start attaches to a staged container and starts it: its launcher then
// waits, idle, for the go line of the job that takes it.
func (pl *pool) start(st *staged) error {
	a, err := pl.e.cli.ContainerAttach(pl.ctx, st.container, client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		return err
	}
	st.att = &a.HijackedResponse
	if _, err := pl.e.cli.ContainerStart(pl.ctx, st.container, client.ContainerStartOptions{}); err != nil {
		return err
	}
	st.running = true
	return nil
}

func (pl *pool) discard(w warmJob) {
	if w.st.att != nil {
		w.st.att.Close()
	}
	pl.discardRemoval(w.id, removal{containers: []string{w.st.container, w.st.helper}, volume: w.st.volume})
}

func (pl *pool) discardRemoval(id string, rm removal) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = pl.e.remove(ctx, rm) // what fails here, Cleanup finds later
	pl.e.track(id, false)
}

// prune drops the idle containers of p's shape that are no longer
// running, after one was found dead, and refills.
func (pl *pool) prune(p prepared) {
	key := keyOf(p)
	pl.mu.Lock()
	list := slices.Clone(pl.idle[key])
	pl.mu.Unlock()
	for _, w := range list {
		ctx, cancel := context.WithTimeout(pl.ctx, 10*time.Second)
		alive := pl.e.alive(ctx, w.st.container)
		cancel()
		if alive {
			continue
		}
		pl.mu.Lock()
		n := len(pl.idle[key])
		pl.idle[key] = slices.DeleteFunc(pl.idle[key], func(x warmJob) bool { return x.id == w.id })
		removed := len(pl.idle[key]) < n
		pl.mu.Unlock()
		if removed {
			pl.discard(w)
		}
	}
	pl.refill(p)
}

// close stops refilling and removes every idle staged job.
func (pl *pool) close() {
	if pl == nil {
		return
	}
	pl.mu.Lock()
	pl.closed = true
	pl.mu.Unlock()
	pl.cancel()
	pl.wg.Wait()
	pl.mu.Lock()
	idle := pl.idle
	pl.idle = map[poolKey][]warmJob{}
	pl.mu.Unlock()
	for _, list := range idle {
		for _, w := range list {
			pl.discard(w)
		}
	}
}

// warmUp stages jobs for the default image in Python, the shape most
// jobs have; it fails quietly (the image may not be pulled yet).
func (pl *pool) warmUp(e *executor) {
	if pl == nil {
		return
	}
	p, err := e.prepare(Job{Language: "python", Files: map[string][]byte{"main.py": nil}})
	if err != nil {
		return
	}
	if _, err := e.cli.ImageInspect(pl.ctx, p.image); err != nil {
		return
	}
	pl.refill(p)
}
