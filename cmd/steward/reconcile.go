package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/worker"
)

// startReconciler runs the worker's reconciler until stop is called: every case whose purchase could not
// start its workflow (Temporal down at the marketplace's callback) is started from its stored order.
func startReconciler(ctx context.Context, cfg *appConfig, temporal worker.Starter, store *db.Store, logger *slog.Logger) (stop func()) {
	r := &worker.Reconciler{Store: store, Temporal: temporal, Logger: logger, AcceptTimeout: cfg.accept}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { r.Run(ctx) })
	return func() {
		cancel()
		wg.Wait()
	}
}
