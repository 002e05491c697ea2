// Package app wires the daemon together: it opens the register, the
// full-text index and the templates, starts the web interface and the admin
// endpoints, and runs the daemon until its context ends. "intake serve" and
// "intake demo" both start intake through Run, so the demo runs the same
// wiring as a deployment.
package app
