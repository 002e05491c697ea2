package main

import (
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/intake-office/intake/internal/mailrig"
)

// The load rig of the end-to-end tests, shared with cmd/intake-bench.
const office = mailrig.LoadOffice

func benchUsers() map[string]string                    { return mailrig.LoadUsers() }
func benchMail(i int, kind string) []byte              { return mailrig.LoadMail(i, kind) }
func appendRaw(c *imapclient.Client, raw []byte) error { return mailrig.AppendSelected(c, raw) }
