package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/intake-office/intake/config"
)

// parseArgs parses flags that may stand before, between or after the
// positional arguments ("case show REF -json") and returns the positionals.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func defaultConfigPath() string {
	if p := os.Getenv("INTAKE_CONFIG"); p != "" {
		return p
	}
	return "/etc/intake/intake.toml"
}

// loadConfig loads and validates the config; on errors it prints every
// problem with file, line and key, and no stack trace.
// Commands that only read the register pass skipSecrets, so that they work in
// a shell without the daemon's password files and variables.
func loadConfig(path string, stderr io.Writer, skipSecrets bool) (*config.Config, bool) {
	cfg, err := config.LoadWith(path, config.Options{SkipSecrets: skipSecrets})
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				fmt.Fprintln(stderr, e.Error())
			}
		} else {
			fmt.Fprintln(stderr, "intake:", err)
		}
		return nil, false
	}
	return cfg, true
}

// newLogger builds the slog logger the config asks for.
func newLogger(lc config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	switch strings.ToLower(lc.Level) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	if strings.ToLower(lc.Format) == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v + " " + bi.GoVersion
}
