package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/intake-office/intake/intake"
	"github.com/intake-office/intake/internal/lettergen"
	"github.com/intake-office/intake/internal/mailrig"
	"github.com/intake-office/intake/search"
	"github.com/intake-office/intake/ticket"
)

// The prepared register of searchdrain: mailbox and prefix of the rig's
// intake configuration (mailrig.IntakeConfig), so that the drain adds its
// cases to the same register and the same counters.
const (
	sdMailbox = "post"
	sdPrefix  = "STK"
	sdSeed    = 12
	sdMeta    = "searchdrain.json"
)

// sdFirst and sdLast bound the received dates of the prepared cases: five
// years up to the week before the benchmark's date.
var (
	sdFirst = time.Date(2021, 12, 1, 8, 0, 0, 0, time.UTC)
	sdLast  = time.Date(2026, 11, 27, 16, 0, 0, 0, time.UTC)
)

// sdData describes a prepared data dir (stored as sdMeta beside it).
type sdData struct {
	Cases int            `json:"cases"` // prepared cases, one message each: UID i is letter i
	Seed  uint64         `json:"seed"`
	Years map[int]uint64 `json:"years"` // the highest case number of each year (office time)
	Build string         `json:"build"` // how long the build took
}

// sdReceived is the received date of prepared letter uid (1..cases).
func sdReceived(uid, cases int) time.Time {
	span := sdLast.Sub(sdFirst)
	return sdFirst.Add(time.Duration(float64(span) * float64(uid-1) / float64(max(cases-1, 1)))).Truncate(time.Second)
}

// sdPrepare returns the prepared data of dir (dir/data is intake's data
// dir): the one there if it was built for cases, else a new one.
func sdPrepare(ctx context.Context, dir string, cases int, logw io.Writer) (sdData, error) {
	var d sdData
	b, err := os.ReadFile(filepath.Join(dir, sdMeta))
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &d); err != nil {
			return d, fmt.Errorf("read %s: %w", sdMeta, err)
		}
		if d.Cases == cases && d.Seed == sdSeed {
			fmt.Fprintf(logw, "searchdrain: reusing the register and index of %d cases in %s (built in %s)\n", cases, dir, d.Build)
			return d, nil
		}
	case !errors.Is(err, fs.ErrNotExist):
		return d, err
	}
	data := filepath.Join(dir, "data")
	if err := os.RemoveAll(data); err != nil {
		return d, err
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return d, err
	}
	start := time.Now()
	d, err = sdBuild(ctx, data, cases, logw)
	if err != nil {
		return d, err
	}
	d.Build = time.Since(start).Round(time.Second).String()
	b, err = json.MarshalIndent(d, "", "  ")
	if err != nil {
		return d, err
	}
	return d, os.WriteFile(filepath.Join(dir, sdMeta), b, 0o600)
}

// sdBuild writes a register of cases letters (one case each, received
// over five years, acks suppressed as too old) and then their full-text
// index the way "intake reindex" fills it (search.Index.Fill in batches of
// 1,000), with the generated letter as the body text.
func sdBuild(ctx context.Context, data string, cases int, logw io.Writer) (sdData, error) {
	d := sdData{Cases: cases, Seed: sdSeed, Years: map[int]uint64{}}
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return d, err
	}
	gen := lettergen.New(sdSeed)
	// The register: batches of 1,000 per transaction, without fsync (what
	// is measured later does not depend on how the file was written).
	store, err := ticket.Open(data, ticket.Options{NoSync: true})
	if err != nil {
		return d, fmt.Errorf("create register: %w", err)
	}
	defer func() {
		if store != nil {
			store.Close()
		}
	}()
	start := time.Now()
	batch := make([]ticket.Incoming, 0, 1000)
	for uid := 1; uid <= cases; uid++ {
		rec := sdReceived(uid, cases)
		l := gen.Letter(uint64(uid), rec)
		batch = append(batch, ticket.Incoming{
			Prefix: sdPrefix, Location: loc, Kind: ticket.KindCitizen, AckDomain: "example.test",
			SuppressReason: "TOO_OLD",
			Message: ticket.Message{
				Mailbox: sdMailbox, UIDValidity: 1, UID: uint32(uid),
				MessageID: fmt.Sprintf("sd-%d@example.org", uid), From: l.From, FromName: l.FirstName + " " + l.LastName,
				To: []string{mailrig.LoadOffice}, Subject: l.Subject, Attachments: l.Attachments,
				Received: rec, Size: int64(len(l.Body) + 900),
			},
		})
		if len(batch) == cap(batch) || uid == cases {
			regs, err := store.RegisterBatch(batch)
			if err != nil {
				return d, fmt.Errorf("register cases: %w", err)
			}
			for _, r := range regs {
				d.Years[r.Reference.Year] = max(d.Years[r.Reference.Year], r.Reference.Number)
			}
			batch = batch[:0]
			if uid%100_000 == 0 {
				fmt.Fprintf(logw, "searchdrain: %d cases registered (%v)\n", uid, time.Since(start).Round(time.Second))
			}
		}
	}
	// The index, from the register, as intake.Reindex fills it.
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ix, err := search.OpenWith(filepath.Join(data, "index"), search.Options{Log: log, Source: intake.SearchSource(store)})
	if err != nil {
		return d, fmt.Errorf("create index: %w", err)
	}
	docs := func(yield func(search.Doc, error) bool) {
		var after uint64
		for {
			items, err := store.MessagesAfter(after, 1000)
			if err != nil {
				yield(search.Doc{}, err)
				return
			}
			if len(items) == 0 {
				return
			}
			for _, it := range items {
				m := it.Message
				// The body is the generator's: the prepared register keeps no raw mails.
				if !yield(intake.SearchDocWithText(it, gen.Letter(uint64(m.UID), m.Received).Body), nil) {
					return
				}
				after = m.Seq
				if after%100_000 == 0 {
					fmt.Fprintf(logw, "searchdrain: %d documents indexed (%v)\n", after, time.Since(start).Round(time.Second))
				}
			}
		}
	}
	n, err := ix.Fill(ctx, docs)
	if err != nil {
		ix.Close()
		return d, fmt.Errorf("fill index: %w", err)
	}
	if err := ix.Close(); err != nil {
		return d, fmt.Errorf("close index: %w", err)
	}
	if n != cases {
		return d, fmt.Errorf("indexed %d of %d messages", n, cases)
	}
	err = store.Close()
	store = nil
	if err != nil {
		return d, fmt.Errorf("close register: %w", err)
	}
	return d, nil
}
