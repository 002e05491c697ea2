package ticket

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Bounds of a setting; settings are small values such as a time or a counter.
const (
	maxSettingKey   = 200
	maxSettingValue = 16 << 10
)

func checkSettingKey(key string) error {
	if key == "" || len(key) > maxSettingKey {
		return fmt.Errorf("key of %d bytes (want 1-%d)", len(key), maxSettingKey)
	}
	return nil
}

// PutSetting stores a small persistent value of the daemon under key (1-200 bytes), e.g.
// the reset time of the hourly ack cap. A nil value deletes the setting.
func (s *Store) PutSetting(key string, value []byte) error {
	if err := checkSettingKey(key); err != nil {
		return fmt.Errorf("put setting %q: %w", key, err)
	}
	if len(value) > maxSettingValue {
		return fmt.Errorf("put setting %q: value of %d bytes (at most %d)", key, len(value), maxSettingValue)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := bucket(tx, bucketSettings)
		if value == nil {
			return b.Delete([]byte(key))
		}
		return b.Put([]byte(key), value)
	})
	if err != nil {
		return fmt.Errorf("put setting %q: %w", key, err)
	}
	return nil
}

// GetSetting returns a copy of the value PutSetting stored under key; nil, nil when there
// is none.
func (s *Store) GetSetting(key string) ([]byte, error) {
	if err := checkSettingKey(key); err != nil {
		return nil, fmt.Errorf("get setting %q: %w", key, err)
	}
	var v []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		// The cursor tells an empty value from none without relying on how Get returns it.
		k, stored := bucket(tx, bucketSettings).Cursor().Seek([]byte(key))
		if bytes.Equal(k, []byte(key)) {
			v = append([]byte{}, stored...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get setting %q: %w", key, err)
	}
	return v, nil
}
