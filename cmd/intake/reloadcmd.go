package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/intake-office/intake/intake"
)

// cmdReload handles "intake reload -config FILE": the running daemon reads
// its configuration file again (as on SIGHUP) and answers what changed, or
// why it refused the file; the running configuration then stays.
func cmdReload(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("reload", stderr)
	cfgPath := fs.String("config", defaultConfigPath(), "configuration file")
	if pos, err := parseArgs(fs, args); err != nil || len(pos) > 0 {
		if err == nil {
			fmt.Fprintln(stderr, "usage: intake reload -config FILE")
		}
		return exitUsage
	}
	// Only data_dir is needed to find the daemon's socket: the file may be
	// invalid otherwise, and the daemon reports every problem itself.
	dataDir, err := dataDirOf(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	c, err := intake.DialLocal(intake.SocketPath(dataDir))
	if err != nil {
		fmt.Fprintf(stderr, "intake: kein laufender Dienst / no running daemon at %s: %v\n", intake.SocketPath(dataDir), err)
		return exitFailure
	}
	res, problems, err := c.Reload()
	if err != nil {
		fmt.Fprintln(stderr, "intake:", err)
		return exitFailure
	}
	if problems != nil {
		fmt.Fprintln(stderr, "Konfiguration abgelehnt, die laufende bleibt / configuration refused, the running one stays:")
		for _, p := range problems {
			fmt.Fprintln(stderr, p)
		}
		return exitFailure
	}
	line := func(label string, names []string) {
		if len(names) > 0 {
			fmt.Fprintf(stdout, "%s: %s\n", label, strings.Join(names, ", "))
		}
	}
	fmt.Fprintln(stdout, "Konfiguration neu geladen / configuration reloaded")
	line("hinzugefügt / added", res.Added)
	line("entfernt / removed", res.Removed)
	line("geändert / changed", res.Changed)
	line("unverändert / unchanged", res.Unchanged)
	return exitOK
}

// dataDirOf reads only data_dir from a configuration file.
func dataDirOf(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read configuration: %w", err)
	}
	var v struct {
		DataDir string `toml:"data_dir"`
	}
	if err := toml.Unmarshal(b, &v); err != nil {
		return "", fmt.Errorf("read data_dir from %s: %w", path, err)
	}
	if v.DataDir == "" {
		return "", fmt.Errorf("%s: data_dir is not set", path)
	}
	return v.DataDir, nil
}
