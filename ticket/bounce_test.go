package ticket

import (
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestMarkBounced(t *testing.T) {
	sentAt := t0.Add(time.Minute)
	bouncedAt := t0.Add(time.Hour)
	tests := []struct {
		name        string
		prepare     func(s *Store) error // on message 1 (pending after Register)
		suppressed  bool
		status      string
		detail      string
		wantErr     error
		wantReply   string
		wantSentAt  time.Time
		wantAttempt int
	}{
		{"from sent", func(s *Store) error { return s.RecordAck(1, AckResult{Status: AckSent, Reply: "250 ok", At: sentAt}) },
			false, "5.1.1", "user unknown", nil, "bounced: 5.1.1 user unknown", sentAt, 1},
		{"from pending", func(*Store) error { return nil },
			false, "5.2.2", "mailbox full", nil, "bounced: 5.2.2 mailbox full", time.Time{}, 0},
		{"from pending after a retry", func(s *Store) error {
			return s.RecordAck(1, AckResult{Status: AckPending, Reply: "451", At: t0, NextTry: t0.Add(10 * time.Minute)})
		}, false, "5.1.1", "", nil, "bounced: 5.1.1", time.Time{}, 1},
		{"from failed", func(s *Store) error { return s.RecordAck(1, AckResult{Status: AckFailed, Reply: "550", At: sentAt}) },
			false, "5.1.1", "x", nil, "bounced: 5.1.1 x", time.Time{}, 1},
		{"again", func(s *Store) error {
			if err := s.RecordAck(1, AckResult{Status: AckSent, At: sentAt}); err != nil {
				return err
			}
			return s.MarkBounced(1, "4.4.7", "delayed", t0)
		}, false, "5.4.7", "expired", nil, "bounced: 5.4.7 expired", sentAt, 1},
		{"no status", func(*Store) error { return nil }, false, "", "returned mail", nil, "bounced: returned mail", time.Time{}, 0},
		{"suppressed", nil, true, "5.1.1", "x", ErrBadTransition, "", time.Time{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			in := incoming(1, "a@x", t0)
			if tt.suppressed {
				in.AckRecipient, in.SuppressReason = "", "LIST"
			}
			mustRegister(t, s, in)
			if tt.prepare != nil {
				if err := tt.prepare(s); err != nil {
					t.Fatal(err)
				}
			}
			err := s.MarkBounced(1, tt.status, tt.detail, bouncedAt)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("MarkBounced: %v, want %v", err, tt.wantErr)
			}
			m, _, _ := s.MessageBySeq(1)
			if tt.wantErr != nil {
				if m.Ack.Status != AckSuppressed {
					t.Errorf("ack changed: %+v", m.Ack)
				}
				return
			}
			a := m.Ack
			if a.Status != AckBounced || a.Bounce != tt.status || a.Reply != tt.wantReply ||
				!a.SentAt.Equal(tt.wantSentAt) || !a.BouncedAt.Equal(bouncedAt) || a.Attempts != tt.wantAttempt ||
				!a.NextTry.IsZero() || a.MessageID == "" {
				t.Errorf("ack = %+v", a)
			}
			// Never sent again: no outbox entry is left.
			if due, _ := s.DueAcks("post", t0.Add(day), 0); len(due) != 0 {
				t.Errorf("%d due acks after the bounce", len(due))
			}
			if _, ok, _ := s.NextAckDue("post"); ok {
				t.Errorf("NextAckDue finds an entry after the bounce")
			}
			if err := s.RecordAck(1, AckResult{Status: AckSent, At: sentAt}); !errors.Is(err, ErrNotPending) {
				t.Errorf("RecordAck after the bounce: %v", err)
			}
		})
	}
	s := newTestStore(t)
	if err := s.MarkBounced(5, "5.1.1", "", t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkBounced of a missing message: %v", err)
	}
}

func TestAcksSentSince(t *testing.T) {
	s := newTestStore(t)
	for uid := range uint32(6) {
		in := incoming(uid+1, "", t0)
		if uid == 5 {
			in.Message.Mailbox = "bauamt"
		}
		mustRegister(t, s, in)
	}
	record := []struct {
		seq uint64
		res AckResult
	}{
		{1, AckResult{Status: AckSent, At: t0.Add(1 * time.Minute)}},
		{2, AckResult{Status: AckSent, At: t0.Add(2 * time.Minute)}},
		{3, AckResult{Status: AckPending, At: t0.Add(3 * time.Minute), NextTry: t0.Add(time.Hour)}},
		{4, AckResult{Status: AckFailed, At: t0.Add(3 * time.Minute)}},
		{6, AckResult{Status: AckSent, At: t0.Add(3 * time.Minute)}}, // another mailbox
		{3, AckResult{Status: AckSent, At: t0.Add(time.Hour)}},
	}
	for _, r := range record {
		if err := s.RecordAck(r.seq, r.res); err != nil {
			t.Fatal(err)
		}
	}
	// A bounce keeps the ack counted as sent.
	if err := s.MarkBounced(2, "5.1.1", "", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// A key space after the sent one (a later schema's) is not counted.
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return bucket(tx, bucketIndex).Put(append([]byte{tagSent + 1}, sentKey(t0, 9)[1:]...), nil)
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		since time.Time
		want  int
	}{
		{time.Time{}, 4},
		{t0, 4},
		{t0.Add(2 * time.Minute), 3}, // inclusive
		{t0.Add(2*time.Minute + time.Nanosecond), 2},
		{t0.Add(time.Hour), 1},
		{t0.Add(time.Hour + 1), 0},
		{time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), 0},
	}
	for _, tt := range tests {
		if got, err := s.AcksSentSince(tt.since); got != tt.want || err != nil {
			t.Errorf("AcksSentSince(%v) = %d, %v; want %d", tt.since, got, err, tt.want)
		}
	}
}
