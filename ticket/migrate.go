package ticket

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// backupBeforeMigration copies the database file when its schema version is
// older than SchemaVersion, before Open migrates it, to
// dataDir/intake.db.v<old>-<UTC time>.bak, fsynced. It returns the copy's path
// ("" when no migration is due). The raw mails are not touched by
// migrations, so this copy is enough to go back to the old version.
func backupBeforeMigration(db *bolt.DB, dataDir string) (string, error) {
	var path string
	err := db.View(func(tx *bolt.Tx) error {
		meta := bucket(tx, bucketMeta)
		if meta == nil {
			return nil // a new database
		}
		v, err := strconv.Atoi(string(meta.Get([]byte(keySchema))))
		if err != nil || v >= SchemaVersion {
			return nil // initSchema reports what is wrong
		}
		path = filepath.Join(dataDir, fmt.Sprintf("%s.v%d-%s.bak", dbFile, v, time.Now().UTC().Format("20060102T150405Z")))
		if err := tx.CopyFile(path, 0o600); err != nil {
			return fmt.Errorf("copy register before migrating schema %d: %w", v, err)
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Sync()
	})
	return path, err
}

// migrate moves the database in tx from schema version from to from+1. initSchema has
// created every bucket of the current version already.
func migrate(tx *bolt.Tx, from int) error {
	switch from {
	case 1:
		return migrateV1(tx)
	case 2:
		return migrateV2(tx)
	}
	return fmt.Errorf("no migration from schema version %d", from)
}

// bucketCreatedV1 is schema version 1's index created 0 case key, which the status index
// replaces (its keys are the same after the status part).
const bucketCreatedV1 = "created"

// migrateV1 builds the indexes that schema version 2 added from the cases and messages:
// status (every case), ackrate (every message whose ack was due) and sent (every ack sent,
// bounced ones included), and drops the created index. The settings bucket starts empty.
// The index bucket is emptied first, so the result depends only on the cases and messages.
func migrateV1(tx *bolt.Tx) error {
	if tx.Bucket([]byte(bucketCreatedV1)) != nil {
		if err := tx.DeleteBucket([]byte(bucketCreatedV1)); err != nil {
			return fmt.Errorf("drop bucket %s: %w", bucketCreatedV1, err)
		}
	}
	if err := tx.DeleteBucket([]byte(bucketIndex)); err != nil {
		return fmt.Errorf("reset bucket %s: %w", bucketIndex, err)
	}
	if _, err := tx.CreateBucket([]byte(bucketIndex)); err != nil {
		return fmt.Errorf("reset bucket %s: %w", bucketIndex, err)
	}
	err := bucket(tx, bucketCases).ForEach(func(k, v []byte) error {
		var c caseRecord
		if err := json.Unmarshal(v, &c); err != nil {
			return fmt.Errorf("decode case %x: %w", k, err)
		}
		if err := bucket(tx, bucketIndex).Put(statusKey(c.Status, c.Created, c.Reference), nil); err != nil {
			return fmt.Errorf("status index of %s: %w", c.Reference, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return bucket(tx, bucketMessages).ForEach(func(k, v []byte) error {
		var m messageRecord
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("decode message %x: %w", k, err)
		}
		if err := writeAckIndexes(tx, &m.Message); err != nil {
			return fmt.Errorf("message %d: %w", m.Seq, err)
		}
		return nil
	})
}

// writeAckIndexes writes the rate entries of a message whose ack was due (see
// writeRateIndexes) and the sent entry of one that was sent.
func writeAckIndexes(tx *bolt.Tx, m *Message) error {
	if err := writeRateIndexes(tx, m); err != nil {
		return err
	}
	if !m.Ack.SentAt.IsZero() {
		if err := bucket(tx, bucketIndex).Put(sentKey(m.Ack.SentAt, m.Seq), nil); err != nil {
			return fmt.Errorf("sent index: %w", err)
		}
	}
	return nil
}

// ackCounts reports whether an ack counts for RateRule: it was due (pending, sent, failed
// or bounced), not suppressed.
func ackCounts(a Ack) bool {
	return a.Status != AckSuppressed && a.Status != "" && a.Recipient != ""
}
