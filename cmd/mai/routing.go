package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/maicompanion/mai/internal/gpu"
	"github.com/maicompanion/mai/internal/logging"
	"github.com/maicompanion/mai/internal/router"
	"github.com/maicompanion/mai/internal/store"
	"github.com/maicompanion/mai/internal/switchlog"
)

// models is what the model commands work with: the router over the
// configured backends, the GPU probe it plans with, and the switch log.
type models struct {
	router *router.Router
	probe  gpu.Result
	log    *switchlog.Log
	db     *store.DB
	close  func()
}

// openModels builds the router from the configuration. With readWrite it
// records every switch in the database and logs to the log file; read-only
// it opens the database read-only (an empty one in memory when none exists
// yet) and logs nowhere.
func (m *Main) openModels(ctx context.Context, access dbAccess) (*models, error) {
	cfg := m.cfg
	db, err := m.openDB(ctx, access)
	if errors.Is(err, store.ErrNoDatabase) {
		fmt.Fprintf(m.Stderr, "mai: no database at %s yet, so no model history ('mai serve' creates it)\n", cfg.MemoryDBPath)
		db, err = store.OpenEmpty(ctx, store.Options{})
	}
	if err != nil {
		return nil, err
	}
	closers := []func(){func() { db.Close() }}
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	sl := switchlog.New(db.DB)
	log := zerolog.Nop()
	if access == readWrite {
		logs, err := m.openLogs(nil)
		if err != nil {
			closeAll()
			return nil, err
		}
		closers = append(closers, func() { logs.Close() })
		log = logging.Component(logs.Logger, "router")
	}
	r, probe, err := m.newRouter(ctx, log, sl, access)
	if err != nil {
		closeAll()
		return nil, err
	}
	return &models{router: r, probe: probe, log: sl, db: db, close: closeAll}, nil
}

// newRouter builds the router from the configuration, planning with the
// GPU probe (read again at every plan), the model cache and the instances
// sl says Mai loaded; with readWrite every switch is stored in sl too.
func (m *Main) newRouter(ctx context.Context, log zerolog.Logger, sl *switchlog.Log, access dbAccess) (*router.Router, gpu.Result, error) {
	gpuOpts := gpu.Options{OverrideGB: m.cfg.GPUVRAMGB}
	probe, err := gpu.Probe(ctx, gpuOpts)
	if err != nil {
		log.Warn().Err(err).Msg("VRAM probe failed; planning as CPU only")
	}
	setup := router.Setup{
		Probe:   probe,
		Reprobe: func(ctx context.Context) (gpu.Result, error) { return gpu.Probe(ctx, gpuOpts) },
		Log:     log,
		Ledger:  sl,
	}
	if access == readWrite {
		setup.OnSwitch = func(s router.Switch) {
			// A fresh context: the switch happened and must be kept even if the
			// request that caused it is being cancelled.
			if err := sl.Record(context.WithoutCancel(ctx), s); err != nil {
				log.Error().Err(err).Msg("could not store the model switch")
			}
		}
	}
	if setup.Cache, err = router.OpenModelCache(m.cfg.ModelCacheDir); err != nil {
		log.Warn().Err(err).Msg("model cache")
	}
	r, err := router.FromConfig(m.cfg, setup)
	return r, probe, err
}

// applyPin makes the owner's pinned model active, if one is pinned.
func (ms *models) applyPin(ctx context.Context) error {
	ref, err := ms.log.Pinned(ctx)
	if err != nil || ref == "" {
		return err
	}
	if err := ms.router.Switch(ctx, ref); err != nil {
		return fmt.Errorf("the pinned model %s: %w (pin another with 'mai models switch NAME', or clear it with 'mai models switch --auto')", ref, err)
	}
	return nil
}

// planTimeout bounds how long the read-only model commands wait for the
// backends: a server that accepts connections but never answers is then
// reported as unreachable instead of holding `mai status` for minutes.
const planTimeout = 5 * time.Second

// plan asks every backend for its state, within planTimeout.
func (ms *models) plan(ctx context.Context) router.Plan {
	ctx, cancel := context.WithTimeout(ctx, planTimeout)
	defer cancel()
	return ms.router.Plan(ctx)
}
