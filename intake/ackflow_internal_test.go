package intake

import (
	"context"
	"runtime"
	"testing"
	"time"
)

func TestAckFlowPace(t *testing.T) {
	ctx := context.Background()
	t.Run("no wait at or below the limit", func(t *testing.T) {
		var f ackFlow
		f.setSending(true)
		f.registered(100)
		if d := f.pace(ctx, 100, time.Hour); d != 0 {
			t.Errorf("paced %v with 100 of 100 waiting", d)
		}
	})
	t.Run("no wait while the responder does not send", func(t *testing.T) {
		var f ackFlow // an SMTP outage, the hourly cap, a register error
		f.registered(5000)
		if d := f.pace(ctx, 100, time.Hour); d != 0 {
			t.Errorf("paced %v while nothing is sent", d)
		}
	})
	t.Run("waits until a recorded round brings the backlog down", func(t *testing.T) {
		var f ackFlow
		f.setSending(true)
		f.registered(250)
		done := make(chan time.Duration)
		go func() { done <- f.pace(ctx, 100, time.Hour) }()
		waitUntilPacing(&f)
		f.recorded(100, false) // 150 left: still waiting
		waitUntilPacing(&f)
		select {
		case d := <-done:
			t.Fatalf("returned after %v with 150 waiting", d)
		default:
		}
		f.recorded(100, false)
		if d := <-done; d <= 0 {
			t.Errorf("pace returned %v, want the time it waited", d)
		}
	})
	t.Run("the responder stopping ends the wait", func(t *testing.T) {
		var f ackFlow
		f.setSending(true)
		f.registered(500)
		done := make(chan time.Duration)
		go func() { done <- f.pace(ctx, 100, time.Hour) }()
		waitUntilPacing(&f)
		f.setSending(false)
		<-done
	})
	t.Run("bounded by maxWait when no round is recorded", func(t *testing.T) {
		var f ackFlow
		f.setSending(true)
		f.registered(500)
		if d := f.pace(ctx, 100, time.Millisecond); d < time.Millisecond {
			t.Errorf("paced %v, want at least the maximum wait", d)
		}
	})
	t.Run("a drained outbox resets the estimate", func(t *testing.T) {
		var f ackFlow
		f.setSending(true)
		f.registered(500)
		f.recorded(3, true)
		if f.waiting() {
			t.Error("acks still waiting after the outbox was drained")
		}
		f.recorded(50, false) // more results than the estimate held
		f.registered(10)
		if f.backlog != 10 {
			t.Errorf("backlog %d, want 10", f.backlog)
		}
	})
}

// waitUntilPacing waits until a pace call waits for progress.
func waitUntilPacing(f *ackFlow) {
	for {
		f.mu.Lock()
		waiting := f.progress != nil
		f.mu.Unlock()
		if waiting {
			return
		}
		runtime.Gosched()
	}
}
