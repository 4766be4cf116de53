package listen

import (
	"context"

	"golang.org/x/sync/semaphore"
)

// budget bounds the bytes of request bodies held in memory at once, so that a flood of
// requests is slowed down or turned away instead of exhausting memory. Waiters are served in
// order, and a release wakes only those it can satisfy.
type budget struct {
	sem *semaphore.Weighted
}

func newBudget(n int64) *budget { return &budget{sem: semaphore.NewWeighted(n)} }

// acquire takes n bytes, waiting until they are free or ctx ends.
func (b *budget) acquire(ctx context.Context, n int64) error { return b.sem.Acquire(ctx, n) }

// tryAcquire takes n bytes if they are free now. Growing a reservation never waits: two
// requests each holding half the budget and waiting for the other would wait forever.
func (b *budget) tryAcquire(n int64) bool { return b.sem.TryAcquire(n) }

func (b *budget) release(n int64) {
	if n > 0 {
		b.sem.Release(n)
	}
}
