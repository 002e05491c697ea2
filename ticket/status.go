package ticket

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// allowedTransition is the clerk's workflow: new -> in_progress -> closed, and a closed
// case reopened -> in_progress.
func allowedTransition(from, to CaseStatus) bool {
	switch from {
	case StatusNew:
		return to == StatusInProgress
	case StatusInProgress:
		return to == StatusClosed
	case StatusClosed:
		return to == StatusInProgress
	}
	return false
}

// SetStatus changes the status of case ref at time at (stored as Case.StatusAt) and moves
// it in the status index. A change the workflow does not allow (see allowedTransition; the
// same status again included) gives an error wrapping ErrBadTransition, an unknown case one
// wrapping ErrNotFound.
func (s *Store) SetStatus(ref Reference, status CaseStatus, at time.Time) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		c, err := getCase(tx, ref)
		if err != nil {
			return err
		}
		if !allowedTransition(c.Status, status) {
			return fmt.Errorf("%s -> %q: %w", c.Status, status, ErrBadTransition)
		}
		idx := bucket(tx, bucketIndex)
		if err := idx.Delete(statusKey(c.Status, c.Created, c.Reference)); err != nil {
			return fmt.Errorf("status index: %w", err)
		}
		if err := idx.Put(statusKey(status, c.Created, c.Reference), nil); err != nil {
			return fmt.Errorf("status index: %w", err)
		}
		a, err := assigneeOf(tx, ref)
		if err != nil {
			return err
		}
		if err := accountWork(tx, c, a, -1); err != nil {
			return fmt.Errorf("worklist: %w", err)
		}
		c.Status, c.StatusAt = status, at
		if err := accountWork(tx, c, a, 1); err != nil {
			return fmt.Errorf("worklist: %w", err)
		}
		return putCase(tx, c)
	})
	if err != nil {
		return fmt.Errorf("set status of %s: %w", ref, err)
	}
	return nil
}
