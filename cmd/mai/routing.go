package main

import (
	"context"
	"fmt"
	"time"

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

// openModels builds the router from the configuration, recording every
// switch in the database. Its log lines go to the log file only.
func (m *Main) openModels(ctx context.Context) (*models, error) {
	cfg := m.cfg
	db, err := store.Open(ctx, cfg.MemoryDBPath, store.Options{})
	if err != nil {
		return nil, err
	}
	logs, err := m.openLogs(nil)
	if err != nil {
		db.Close()
		return nil, err
	}
	log := logging.Component(logs.Logger, "router")
	gpuOpts := gpu.Options{OverrideGB: cfg.GPUVRAMGB}
	probe, err := gpu.Probe(ctx, gpuOpts)
	if err != nil {
		log.Warn().Err(err).Msg("VRAM probe failed; planning as CPU only")
	}
	sl := switchlog.New(db.DB)
	record := func(s router.Switch) {
		// A fresh context: the switch happened and must be kept even if the
		// request that caused it is being cancelled.
		if err := sl.Record(context.WithoutCancel(ctx), s); err != nil {
			log.Error().Err(err).Msg("could not store the model switch")
		}
	}
	cache, err := router.OpenModelCache(cfg.ModelCacheDir)
	if err != nil {
		log.Warn().Err(err).Msg("model cache")
	}
	r, err := router.FromConfig(cfg, router.Setup{
		Ledger:   sl,
		Cache:    cache,
		Probe:    probe,
		Reprobe:  func(ctx context.Context) (gpu.Result, error) { return gpu.Probe(ctx, gpuOpts) },
		Log:      log,
		OnSwitch: record,
	})
	if err != nil {
		logs.Close()
		db.Close()
		return nil, err
	}
	return &models{router: r, probe: probe, log: sl, db: db, close: func() { logs.Close(); db.Close() }}, nil
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
