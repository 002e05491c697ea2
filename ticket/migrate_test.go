package ticket

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// v2Buckets are the buckets schema version 2 added.
var v2Buckets = []string{bucketIndex, bucketSettings}

// downgradeToV1 turns the closed database in dir into what schema version 1 wrote for the
// same registrations: without the version 2 buckets, without the version 2 fields of case
// and message records, with the created index (created 0 case key), schema "1".
func downgradeToV1(t *testing.T, dir string) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, dbFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	strip := func(b *bolt.Bucket, fields ...string) error {
		return b.ForEach(func(k, v []byte) error {
			var doc map[string]any
			if err := json.Unmarshal(v, &doc); err != nil {
				return err
			}
			for _, f := range fields {
				delete(doc, f)
			}
			if ack, ok := doc["ack"].(map[string]any); ok {
				delete(ack, "bounce")
				delete(ack, "bounced_at")
			}
			out, err := json.Marshal(doc)
			if err != nil {
				return err
			}
			return b.Put(k, out)
		})
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range v2Buckets {
			if err := tx.DeleteBucket([]byte(name)); err != nil {
				return fmt.Errorf("delete %s: %w", name, err)
			}
		}
		created, err := tx.CreateBucket([]byte(bucketCreatedV1))
		if err != nil {
			return err
		}
		err = bucket(tx, bucketCases).ForEach(func(k, v []byte) error {
			var c caseRecord
			if err := json.Unmarshal(v, &c); err != nil {
				return err
			}
			return created.Put(join(timeKey(c.Created), k), nil)
		})
		if err != nil {
			return err
		}
		if err := strip(bucket(tx, bucketCases), "links", "status_at"); err != nil {
			return err
		}
		if err := strip(bucket(tx, bucketMessages)); err != nil {
			return err
		}
		return bucket(tx, bucketMeta).Put([]byte(keySchema), []byte("1"))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// bucketKeys returns the keys of the named buckets.
func bucketKeys(t *testing.T, s *Store, names ...string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, name := range names {
			b := bucket(tx, name)
			if b == nil {
				return fmt.Errorf("bucket %s missing", name)
			}
			out[name] = []string{}
			if err := b.ForEach(func(k, _ []byte) error {
				out[name] = append(out[name], fmt.Sprintf("%x", k))
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func schemaOf(t *testing.T, s *Store) string {
	t.Helper()
	var v string
	s.db.View(func(tx *bolt.Tx) error { v = string(bucket(tx, bucketMeta).Get([]byte(keySchema))); return nil })
	return v
}

// fillForMigration registers mails in every ack state and changes some statuses.
func fillForMigration(t *testing.T, s *Store) {
	t.Helper()
	for i := range 8 {
		in := incoming(uint32(i+1), fmt.Sprintf("m%d@x", i), t0.Add(time.Duration(i)*time.Hour))
		switch i {
		case 3:
			in.AckRecipient, in.SuppressReason = "", "LIST"
		case 4:
			in.AckRecipient = "Anna@Example.ORG"
		case 5:
			in.FollowUpOf = new(ref(1))
		case 6:
			in.Message.Mailbox = "bauamt"
		}
		mustRegister(t, s, in)
	}
	steps := []func() error{
		func() error { return s.RecordAck(1, AckResult{Status: AckSent, At: t0.Add(time.Minute)}) },
		func() error { return s.RecordAck(2, AckResult{Status: AckSent, At: t0.Add(2 * time.Hour)}) },
		func() error { return s.RecordAck(3, AckResult{Status: AckFailed, At: t0.Add(3 * time.Hour)}) },
		func() error { return s.RecordAck(7, AckResult{Status: AckSent, At: t0.Add(7 * time.Hour)}) },
		func() error { return s.MarkBounced(2, "5.1.1", "unknown", t0.Add(4*time.Hour)) },
		func() error { return s.SetStatus(ref(2), StatusInProgress, t0.Add(day)) },
		func() error { return s.SetStatus(ref(3), StatusInProgress, t0.Add(day)) },
		func() error { return s.SetStatus(ref(3), StatusClosed, t0.Add(day)) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
}

func TestMigrateV1(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	fillForMigration(t, s)
	if err := s.PutSetting("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	// What Register, RecordAck and SetStatus wrote is what the migration must build.
	before := bucketKeys(t, s, bucketIndex)
	for _, tag := range []byte{tagStatus, tagAckRate, tagSent} {
		if !slices.ContainsFunc(before[bucketIndex], func(k string) bool { return k[:2] == fmt.Sprintf("%x", tag) }) {
			t.Fatalf("no %q keys in the index before the migration", tag)
		}
	}
	s.Close()
	downgradeToV1(t, dir)

	s = openTestStore(t, dir)
	defer s.Close()
	if v := schemaOf(t, s); v != strconv.Itoa(SchemaVersion) {
		t.Errorf("schema after migration %q", v)
	}
	// The upgrade copied the version 1 register first.
	if s.MigrationBackup == "" || !strings.Contains(filepath.Base(s.MigrationBackup), ".v1-") {
		t.Fatalf("no backup before the migration: %q", s.MigrationBackup)
	}
	old, err := bolt.Open(s.MigrationBackup, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("open the backup: %v", err)
	}
	old.View(func(tx *bolt.Tx) error {
		if v := string(tx.Bucket([]byte(bucketMeta)).Get([]byte(keySchema))); v != "1" {
			t.Errorf("backup holds schema %q, want the old 1", v)
		}
		return nil
	})
	old.Close()
	after := bucketKeys(t, s, bucketIndex, bucketSettings)
	for name, keys := range before {
		if fmt.Sprint(after[name]) != fmt.Sprint(keys) {
			t.Errorf("bucket %s after migration:\n%v\nwant\n%v", name, after[name], keys)
		}
	}
	if len(after[bucketSettings]) != 0 {
		t.Errorf("settings after migration: %v", after[bucketSettings])
	}
	s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte(bucketCreatedV1)) != nil {
			t.Errorf("bucket %s not dropped", bucketCreatedV1)
		}
		return nil
	})
	if got, _ := s.List(Filter{}); len(got) != 7 || got[0].Reference != ref(7) || got[6].Reference != ref(1) {
		t.Errorf("List after migration: %d cases", len(got))
	}

	// The migrated indexes work.
	if n, err := s.AcksSentSince(t0); n != 3 || err != nil {
		t.Errorf("AcksSentSince = %d, %v; want 3", n, err)
	}
	if got, _ := s.List(Filter{Status: StatusClosed}); len(got) != 1 || got[0].Reference != ref(3) {
		t.Errorf("closed cases after migration: %v", got)
	}
	if got, _ := s.List(Filter{Status: StatusNew}); len(got) != 5 {
		t.Errorf("%d new cases after migration, want 5", len(got))
	}
	rule := &RateRule{PerSenderLimit: 1, FollowUpAck: true}
	st := rateStep{at: 7*time.Hour + time.Minute, want: rateRe} // erika had acks within 24h
	checkRateStep(t, s, 8, st, mustRegister(t, s, st.incoming(20, rule)))
	st = rateStep{at: 7 * time.Hour, rcpt: "anna@example.org", want: rateRe}
	checkRateStep(t, s, 9, st, mustRegister(t, s, st.incoming(21, rule)))
	if err := s.SetStatus(ref(3), StatusInProgress, t0.Add(2*day)); err != nil {
		t.Errorf("reopen after migration: %v", err)
	}
	checkStatusIndex(t, s)

	// Opening again changes nothing and copies nothing.
	mid := bucketKeys(t, s, bucketIndex)[bucketIndex]
	s.Close()
	s = openTestStore(t, dir)
	defer s.Close()
	if s.MigrationBackup != "" {
		t.Errorf("a second open made a backup: %s", s.MigrationBackup)
	}
	if got := bucketKeys(t, s, bucketIndex)[bucketIndex]; fmt.Sprint(got) != fmt.Sprint(mid) {
		t.Errorf("index after a second open:\n%v\nwant\n%v", got, mid)
	}
}

// TestMigrateV1Fails: a failing migration leaves the version 1 database untouched.
func TestMigrateV1Fails(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	fillForMigration(t, s)
	s.Close()
	downgradeToV1(t, dir)
	db, err := bolt.Open(filepath.Join(dir, dbFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return bucket(tx, bucketMessages).Put(seqKey(8), []byte("{not json"))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	if s, err := Open(dir, Options{NoSync: true}); err == nil {
		s.Close()
		t.Fatal("Open with a broken message record succeeded")
	} else if !bytes.Contains([]byte(err.Error()), []byte("migrate schema 1 to 2")) {
		t.Errorf("error does not say what failed: %v", err)
	}
	db, err = bolt.Open(filepath.Join(dir, dbFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		if v := string(bucket(tx, bucketMeta).Get([]byte(keySchema))); v != "1" {
			return fmt.Errorf("schema %q after a failed migration", v)
		}
		for _, name := range v2Buckets {
			if tx.Bucket([]byte(name)) != nil {
				return fmt.Errorf("bucket %s created by a failed migration", name)
			}
		}
		if tx.Bucket([]byte(bucketCreatedV1)) == nil {
			return fmt.Errorf("bucket %s dropped by a failed migration", bucketCreatedV1)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func TestOpenBadSchema(t *testing.T) {
	for _, v := range []string{"0", "-1", "x", ""} {
		t.Run(v, func(t *testing.T) {
			dir := t.TempDir()
			s := openTestStore(t, dir)
			if err := s.db.Update(func(tx *bolt.Tx) error {
				return bucket(tx, bucketMeta).Put([]byte(keySchema), []byte(v))
			}); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s, err := Open(dir, Options{NoSync: true})
			if err == nil {
				s.Close()
				t.Fatalf("Open of schema %q succeeded", v)
			}
			if errors.Is(err, ErrLocked) {
				t.Errorf("schema %q: %v", v, err)
			}
		})
	}
}
