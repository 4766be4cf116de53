package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// retry is the one delivery loop of every transport. It runs once per attempt, each attempt
// bounded by Options.Timeout, until an attempt needs no retry (again says so), the retries
// are spent or ctx ends. Before each retry it waits what again asked for (a Retry-After) or
// else an exponential backoff from Options.BackoffBase up to Options.BackoffMax, with equal
// jitter (half the delay fixed, half random), so that many senders that failed together do
// not come back together.
func (o *Options) retry(ctx context.Context, once func(actx context.Context) Result, again func(Result) (wait time.Duration, retry bool)) Result {
	start := time.Now()
	base, top := o.BackoffBase, o.BackoffMax
	if base <= 0 {
		base = 200 * time.Millisecond
	}
	if top <= 0 {
		top = 10 * time.Second
	}
	wait := o.Sleep
	if wait == nil {
		wait = sleep
	}
	var res Result
	written := 0 // attempts that went out and got no response, kept across attempts
	for attempt := 1; ; attempt++ {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if o.Timeout > 0 {
			actx, cancel = context.WithTimeout(ctx, o.Timeout)
		}
		res = once(actx)
		if !res.Delivered && res.Err != nil && errors.Is(actx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			res.Err = timedOut(res.Err, o.Timeout)
		}
		cancel()
		written += res.Written
		res.Written = written
		res.Attempts = attempt
		if ctx.Err() != nil {
			res.Err = ctx.Err()
			break
		}
		d, ok := again(res)
		if !ok || attempt > o.Retries {
			break
		}
		if d <= 0 {
			d = base << min(attempt-1, 20)
			if d <= 0 || d > top {
				d = top
			}
			d = d/2 + rand.N(d/2+1)
		}
		if dl, ok := ctx.Deadline(); ok && time.Now().Add(d).After(dl) {
			// The run's deadline comes before the next attempt could start: stop now with
			// the last result rather than wait for nothing.
			res.Err = &DeadlineError{Wait: d, Last: res.Err}
			break
		}
		if o.OnRetry != nil {
			o.OnRetry(attempt, d, res)
		}
		if err := wait(ctx, d); err != nil {
			res.Err = err
			break
		}
	}
	res.Duration = time.Since(start)
	return res
}

// timedOut says that an attempt ended for its time limit, unless err says so already. (A
// function of its own: the error target of errors.As is allocated where it is declared, and
// the delivery loop runs once per event.)
func timedOut(err error, after time.Duration) error {
	var te *TimeoutError
	if errors.As(err, &te) {
		return err
	}
	return fmt.Errorf("%w: %w", &TimeoutError{After: after, Sent: true}, err)
}

// DeadlineError says that a retry was due but would have started after the run's deadline.
// Last is the error of the last attempt, nil when it got an answer (a 5xx, a 429).
type DeadlineError struct {
	Wait time.Duration
	Last error
}

func (e *DeadlineError) Error() string {
	msg := fmt.Sprintf("not retried: the next attempt (in %s) would start after the deadline", e.Wait.Round(time.Millisecond))
	if e.Last != nil {
		return e.Last.Error() + "; " + msg
	}
	return msg
}

func (e *DeadlineError) Unwrap() error { return e.Last }

// MaxRetryAfter is the longest wait a Retry-After header may ask for before a retry; a
// longer one is cut to it. A run with a deadline never waits past it either.
const MaxRetryAfter = 30 * time.Second

// httpAgain says which HTTP outcomes are worth another attempt: network errors, 408, 429 and
// 5xx. A Retry-After header (RFC 9110 §10.2.3) on the response sets the wait, at most
// MaxRetryAfter.
func httpAgain(res Result) (time.Duration, bool) {
	if !res.Delivered {
		return 0, res.Request != nil // nil: the request could not even be built
	}
	switch s := res.Status; {
	case s == http.StatusRequestTimeout, s == http.StatusTooManyRequests, s >= 500 && s <= 599:
	default:
		return 0, false
	}
	if d, ok := RetryAfter(res.Response.Header.Get("Retry-After"), time.Now()); ok {
		return max(min(d, MaxRetryAfter), time.Nanosecond), true
	}
	return 0, true
}

// brokerAgain retries the attempts that delivered nothing: a NACK is the broker's answer, and
// a usage error will not go away.
func brokerAgain(res Result) (time.Duration, bool) {
	if res.Delivered {
		return 0, false
	}
	return 0, !isUsageError(res.Err)
}

func isUsageError(err error) bool {
	var ue *UsageError
	return errors.As(err, &ue)
}

// RetryAfter parses a Retry-After value: delay seconds or an HTTP date.
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
