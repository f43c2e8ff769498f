package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// signals turns SIGINT, SIGTERM and SIGHUP into the runner's stop. In a
// phase that stops on its context and leaves its files whole (the
// optimisation loop, which saves a checkpoint first; a sweep between
// points), the first signal cancels the context and a second exits at once.
// In every other phase (reading and checking a config, expanding or listing
// a sweep, loading a model: a cgo call nothing can cancel) nothing is being
// written, so the first signal exits at once. Either way the exit status is
// 128 plus the signal's number (130 for SIGINT, 143 for SIGTERM).
type signals struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu   sync.Mutex
	got  syscall.Signal // the first signal; 0: none yet
	soft int            // > 0 inside stopping
	hard int            // > 0 inside atOnce (wins over soft)
}

// watchSignals starts listening; until stopping is called, a signal exits.
func watchSignals() *signals {
	s := &signals{}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP) // HUP: the terminal closed
	go func() {
		for sig := range ch {
			s.handle(sig.(syscall.Signal))
		}
	}()
	return s
}

func (s *signals) handle(sig syscall.Signal) {
	s.mu.Lock()
	first := s.got == 0
	if first {
		s.got = sig
	}
	graceful := s.soft > 0 && s.hard == 0
	s.mu.Unlock()
	switch {
	case first && graceful:
		s.cancel()
		return
	case first:
		fmt.Fprintf(os.Stderr, "runner: %v: stopped (nothing was being written)\n", sig)
	default:
		fmt.Fprintf(os.Stderr, "runner: %v again: stopping now; the last checkpoint is intact\n", sig)
	}
	os.Exit(128 + int(sig))
}

// stopping runs fn as a phase that stops on s.ctx.
func (s *signals) stopping(fn func() error) error {
	s.mu.Lock()
	s.soft++
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.soft--; s.mu.Unlock() }()
	return fn()
}

// atOnce runs fn as a phase a signal ends at once, inside stopping too
// (a model loaded between two points of a sweep). A signal that came
// before is honoured first.
func (s *signals) atOnce(fn func() error) error {
	s.mu.Lock()
	s.hard++
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.hard--; s.mu.Unlock() }()
	if err := s.ctx.Err(); err != nil {
		return err
	}
	return fn()
}

// caught is the first signal, as the error run returns.
func (s *signals) caught() interrupted {
	s.mu.Lock()
	defer s.mu.Unlock()
	return interrupted{s.got}
}

// wait calls ready, then blocks until a signal, as a phase that stops on
// s.ctx: a served view ends with exit status 0. ready (which says how to
// stop) runs inside the phase, so a signal sent once it is seen never
// meets the exit-at-once handling of the phase before.
func (s *signals) wait(ready func()) {
	_ = s.stopping(func() error { ready(); <-s.ctx.Done(); return nil })
}
