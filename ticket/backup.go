package ticket

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A backup is a gzip-compressed tar archive (POSIX/PAX, archive/tar) holding
//
//	intake.db            a consistent bbolt snapshot (tx.WriteTo in one read transaction)
//	raw/<2 hex>/<sum>    every raw mail a message of that snapshot names, once
//	MANIFEST.json        BackupInfo: time, schema version, counts, SHA-256 of intake.db
//
// in this order. Only these names are ever written or accepted.
const (
	// BackupFormat is the version of the archive layout above.
	BackupFormat = 1
	manifestName = "MANIFEST.json"
	maxManifest  = 1 << 20
)

// The modes of the register's files and directories, in the live store and
// in a restored one alike: only the daemon's user reads a citizen's mail
// (BSI IT-Grundschutz APP.5.3: mail data readable only by its service).
// Restore sets them with chmod, so that the umask of whoever runs it
// neither widens nor narrows them.
const (
	storeFileMode os.FileMode = 0o600
	storeDirMode  os.FileMode = 0o700
)

// mkdirStore creates dir (and missing parents) with storeDirMode and sets
// exactly that mode on dir.
func mkdirStore(dir string) error {
	if err := os.MkdirAll(dir, storeDirMode); err != nil {
		return err
	}
	return os.Chmod(dir, storeDirMode)
}

// ErrBadBackup is wrapped by every refusal of Restore and VerifyBackup: a
// damaged, truncated, tampered or foreign archive.
var ErrBadBackup = errors.New("not a valid intake backup")

// BackupInfo is the manifest of a backup (MANIFEST.json).
type BackupInfo struct {
	Format   int       `json:"format"`
	Created  time.Time `json:"created"`
	Schema   int       `json:"schema"`
	Cases    int       `json:"cases"`
	Messages int       `json:"messages"`
	RawFiles int       `json:"raw_files"`
	RawBytes int64     `json:"raw_bytes"`
	DBSize   int64     `json:"db_size"`
	DBSHA256 string    `json:"db_sha256"`
}

// Backup writes a backup of the register to w while it stays in use. The
// read transaction lasts only for copying the database to a temporary file
// in the data directory and collecting the raw sums its messages name (a
// long read transaction would block a writer that must grow the file); the
// raw mails are streamed afterwards. Raw files are never changed once named
// (StoreRaw writes them before the commit that names them), so the archive
// is consistent with the snapshot.
func (s *Store) Backup(w io.Writer) (BackupInfo, error) {
	info := BackupInfo{Format: BackupFormat, Created: time.Now().UTC()}
	// The deferred audit entries belong in it.
	if err := s.FlushAudit(); err != nil {
		return info, fmt.Errorf("backup: %w", err)
	}
	tmp, err := os.CreateTemp(s.dir, ".backup-*.db")
	if err != nil {
		return info, fmt.Errorf("backup: snapshot file: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	h := sha256.New()
	var sums []string
	err = s.db.View(func(tx *bolt.Tx) error {
		if _, err := tx.WriteTo(io.MultiWriter(tmp, h)); err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		var err error
		info.Schema, info.Cases, info.Messages, sums, err = scanSnapshot(tx)
		return err
	})
	if err != nil {
		return info, fmt.Errorf("backup: %w", err)
	}
	info.DBSHA256 = hex.EncodeToString(h.Sum(nil))
	fi, err := tmp.Stat()
	if err != nil {
		return info, fmt.Errorf("backup: %w", err)
	}
	info.DBSize = fi.Size()
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return info, fmt.Errorf("backup: %w", err)
	}

	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	if err := addFile(tw, dbFile, int64(storeFileMode), info.DBSize, info.Created, tmp); err != nil {
		return info, fmt.Errorf("backup: %w", err)
	}
	for _, sum := range sums {
		n, err := s.addRaw(tw, sum, info.Created)
		if err != nil {
			return info, fmt.Errorf("backup: %w", err)
		}
		info.RawFiles++
		info.RawBytes += n
	}
	manifest, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return info, fmt.Errorf("backup: manifest: %w", err)
	}
	manifest = append(manifest, '\n')
	if err := addFile(tw, manifestName, int64(storeFileMode), int64(len(manifest)), info.Created, strings.NewReader(string(manifest))); err != nil {
		return info, fmt.Errorf("backup: %w", err)
	}
	if err := tw.Close(); err != nil {
		return info, fmt.Errorf("backup: close tar: %w", err)
	}
	if err := zw.Close(); err != nil {
		return info, fmt.Errorf("backup: close gzip: %w", err)
	}
	return info, nil
}

// scanSnapshot reads the schema version, counts the cases and messages and
// collects the distinct raw sums the messages name, sorted.
func scanSnapshot(tx *bolt.Tx) (schema, cases, messages int, sums []string, err error) {
	meta := bucket(tx, bucketMeta)
	if meta == nil {
		return 0, 0, 0, nil, errors.New("no meta bucket")
	}
	raw := meta.Get([]byte(keySchema))
	if schema, err = strconv.Atoi(string(raw)); err != nil {
		return 0, 0, 0, nil, fmt.Errorf("schema version %q: %w", raw, err)
	}
	cb, mb := bucket(tx, bucketCases), bucket(tx, bucketMessages)
	if cb == nil || mb == nil {
		return 0, 0, 0, nil, errors.New("cases or messages bucket missing")
	}
	cases = cb.Stats().KeyN
	seen := map[string]bool{}
	err = mb.ForEach(func(k, v []byte) error {
		messages++
		var m struct {
			RawSHA256 string `json:"raw_sha256"`
		}
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("message %x: %w", k, err)
		}
		if m.RawSHA256 == "" || seen[m.RawSHA256] {
			return nil
		}
		if !validSum(m.RawSHA256) {
			return fmt.Errorf("message %x: raw sum %q: not a SHA-256 hex sum", k, m.RawSHA256)
		}
		seen[m.RawSHA256] = true
		sums = append(sums, m.RawSHA256)
		return nil
	})
	slices.Sort(sums)
	return schema, cases, messages, sums, err
}

func (s *Store) addRaw(tw *tar.Writer, sum string, at time.Time) (int64, error) {
	f, err := s.OpenRaw(sum)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("raw %s: %w", sum, err)
	}
	if err := addFile(tw, rawName(sum), int64(storeFileMode), fi.Size(), at, f); err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func rawName(sum string) string { return rawDir + "/" + sum[:2] + "/" + sum }

func addFile(tw *tar.Writer, name string, mode int64, size int64, at time.Time, r io.Reader) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: size, ModTime: at, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	n, err := io.Copy(tw, r)
	if err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	if n != size {
		return fmt.Errorf("archive %s: %d bytes instead of %d (changed while read)", name, n, size)
	}
	return nil
}

// archiveEntry checks an entry name against the only names a backup has and
// returns its kind: "db", "manifest" or "raw" (with the sum). Anything else —
// absolute paths, "..", other files, links — is refused, so extraction can
// never leave the target directory.
func archiveEntry(hdr *tar.Header) (kind, sum string, err error) {
	if hdr.Typeflag != tar.TypeReg {
		return "", "", fmt.Errorf("entry %q: type %q is not a regular file: %w", hdr.Name, hdr.Typeflag, ErrBadBackup)
	}
	switch name := hdr.Name; {
	case name == dbFile:
		return "db", "", nil
	case name == manifestName:
		return "manifest", "", nil
	case strings.HasPrefix(name, rawDir+"/"):
		sum := path.Base(name)
		if validSum(sum) && name == rawName(sum) {
			return "raw", sum, nil
		}
	}
	return "", "", fmt.Errorf("entry %q: unexpected name (path traversal or foreign file): %w", hdr.Name, ErrBadBackup)
}

// readBackup reads an archive, checking every entry; with dir != "" it
// writes the files there. It returns the manifest and the raw sums seen.
func readBackup(r io.Reader, dir string) (BackupInfo, map[string]bool, error) {
	var info BackupInfo
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return info, nil, fmt.Errorf("gzip: %v: %w", err, ErrBadBackup)
		}
		defer zr.Close()
		src = zr
	}
	if dir != "" {
		if err := mkdirStore(filepath.Join(dir, rawDir)); err != nil {
			return info, nil, fmt.Errorf("restore %s: %w", rawDir, err)
		}
		// As Open makes it, so that the restored tree is the live one's.
		if _, err := makeRawTempDir(filepath.Join(dir, rawDir)); err != nil {
			return info, nil, fmt.Errorf("restore %s: %w", rawDir, err)
		}
	}
	tr := tar.NewReader(src)
	raws := map[string]bool{}
	var rawBytes int64
	var dbSum string
	var dbSize int64
	haveManifest := false
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return info, nil, fmt.Errorf("read archive: %v: %w", err, ErrBadBackup)
		}
		kind, sum, err := archiveEntry(hdr)
		if err != nil {
			return info, nil, err
		}
		switch kind {
		case "manifest":
			if haveManifest {
				return info, nil, fmt.Errorf("two manifests: %w", ErrBadBackup)
			}
			b, err := io.ReadAll(io.LimitReader(tr, maxManifest+1))
			if err != nil {
				return info, nil, fmt.Errorf("read manifest: %v: %w", err, ErrBadBackup)
			}
			if len(b) > maxManifest {
				return info, nil, fmt.Errorf("manifest larger than %d bytes: %w", maxManifest, ErrBadBackup)
			}
			if err := json.Unmarshal(b, &info); err != nil {
				return info, nil, fmt.Errorf("manifest: %v: %w", err, ErrBadBackup)
			}
			haveManifest = true
		case "db":
			if dbSum != "" {
				return info, nil, fmt.Errorf("two databases: %w", ErrBadBackup)
			}
			dbSum, dbSize, err = extract(tr, dir, dbFile)
			if err != nil {
				return info, nil, err
			}
		case "raw":
			if raws[sum] {
				return info, nil, fmt.Errorf("raw %s twice: %w", sum, ErrBadBackup)
			}
			got, n, err := extract(tr, dir, filepath.Join(rawDir, sum[:2], sum))
			if err != nil {
				return info, nil, err
			}
			if got != sum {
				return info, nil, fmt.Errorf("raw %s: content hashes to %s: %w", sum, got, ErrBadBackup)
			}
			raws[sum] = true
			rawBytes += n
		}
	}
	switch {
	case !haveManifest:
		return info, nil, fmt.Errorf("no %s (truncated archive?): %w", manifestName, ErrBadBackup)
	case info.Format != BackupFormat:
		return info, nil, fmt.Errorf("archive format %d, this intake reads %d: %w", info.Format, BackupFormat, ErrBadBackup)
	case dbSum == "":
		return info, nil, fmt.Errorf("no %s: %w", dbFile, ErrBadBackup)
	case dbSum != info.DBSHA256 || dbSize != info.DBSize:
		return info, nil, fmt.Errorf("%s hashes to %s (%d bytes), manifest says %s (%d bytes): %w",
			dbFile, dbSum, dbSize, info.DBSHA256, info.DBSize, ErrBadBackup)
	case len(raws) != info.RawFiles || rawBytes != info.RawBytes:
		return info, nil, fmt.Errorf("%d raw files (%d bytes), manifest says %d (%d bytes): %w",
			len(raws), rawBytes, info.RawFiles, info.RawBytes, ErrBadBackup)
	case info.Schema > SchemaVersion:
		return info, nil, fmt.Errorf("schema version %d is newer than %d: use a newer intake", info.Schema, SchemaVersion)
	}
	return info, raws, nil
}

// extract copies one entry to dir/name (or only hashes it when dir is ""),
// fsynced, with storeFileMode in a directory of storeDirMode, and returns
// its SHA-256 and size.
func extract(r io.Reader, dir, name string) (string, int64, error) {
	h := sha256.New()
	if dir == "" {
		n, err := io.Copy(h, r)
		if err != nil {
			return "", n, fmt.Errorf("read %s: %v: %w", name, err, ErrBadBackup)
		}
		return hex.EncodeToString(h.Sum(nil)), n, nil
	}
	target := filepath.Join(dir, name)
	if sub := filepath.Dir(name); sub != "." {
		if err := mkdirStore(filepath.Join(dir, sub)); err != nil {
			return "", 0, fmt.Errorf("restore %s: %w", name, err)
		}
	}
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, storeFileMode)
	if err != nil {
		return "", 0, fmt.Errorf("restore %s: %w", name, err)
	}
	defer f.Close()
	if err := f.Chmod(storeFileMode); err != nil {
		return "", 0, fmt.Errorf("restore %s: %w", name, err)
	}
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err != nil {
		return "", n, fmt.Errorf("read %s: %v: %w", name, err, ErrBadBackup)
	}
	if err := f.Sync(); err != nil {
		return "", n, fmt.Errorf("restore %s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, f.Close()
}

// VerifyBackup reads a whole archive and checks it as Restore does (names,
// raw hashes, database hash, counts of raw files) without writing anything.
func VerifyBackup(r io.Reader) (BackupInfo, error) {
	info, _, err := readBackup(r, "")
	if err != nil {
		return info, fmt.Errorf("verify backup: %w", err)
	}
	return info, nil
}

// Restore extracts a backup into dir, which must not exist or be empty, and
// checks it: only the names a backup has, every raw mail hashing to its
// name, the database hashing to the manifest's sum, and the register in it
// naming only raw mails that are present with the counts of the manifest.
// On any refusal what was extracted is removed again. The search index is
// not part of a backup; the daemon rebuilds it on its first start.
func Restore(r io.Reader, dir string) (info BackupInfo, err error) {
	entries, statErr := os.ReadDir(dir)
	switch {
	case statErr == nil && len(entries) > 0:
		return info, fmt.Errorf("restore into %s: directory is not empty", dir)
	case statErr != nil && !errors.Is(statErr, os.ErrNotExist):
		return info, fmt.Errorf("restore into %s: %w", dir, statErr)
	}
	// A directory Restore creates gets storeDirMode; an empty one the admin
	// made (a systemd StateDirectory, say) keeps its own mode, as the live
	// store leaves data_dir's mode alone.
	if statErr != nil {
		if err := mkdirStore(dir); err != nil {
			return info, fmt.Errorf("restore into %s: %w", dir, err)
		}
	}
	defer func() {
		if err != nil {
			// Leave nothing that could be taken for a register.
			if statErr != nil {
				os.RemoveAll(dir)
			} else if entries, rerr := os.ReadDir(dir); rerr == nil {
				for _, e := range entries {
					os.RemoveAll(filepath.Join(dir, e.Name()))
				}
			}
		}
	}()
	info, raws, err := readBackup(r, dir)
	if err != nil {
		return info, fmt.Errorf("restore into %s: %w", dir, err)
	}
	if err := checkRestored(dir, info, raws); err != nil {
		return info, fmt.Errorf("restore into %s: %w", dir, err)
	}
	for _, d := range []string{filepath.Join(dir, rawDir), dir} {
		if err := fsyncPath(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			return info, fmt.Errorf("restore into %s: %w", dir, err)
		}
	}
	return info, nil
}

// checkRestored opens the restored database read-only and checks that its
// counts match the manifest and every raw mail it names was restored.
func checkRestored(dir string, info BackupInfo, raws map[string]bool) error {
	if err := mkdirStore(filepath.Join(dir, rawDir)); err != nil {
		return err
	}
	db, err := bolt.Open(filepath.Join(dir, dbFile), storeFileMode, &bolt.Options{ReadOnly: true, Timeout: defaultTimeout})
	if err != nil {
		return fmt.Errorf("open restored %s: %v: %w", dbFile, err, ErrBadBackup)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		schema, cases, messages, sums, err := scanSnapshot(tx)
		if err != nil {
			return fmt.Errorf("restored %s: %v: %w", dbFile, err, ErrBadBackup)
		}
		if schema != info.Schema || cases != info.Cases || messages != info.Messages {
			return fmt.Errorf("restored register: schema %d, %d cases, %d messages; manifest says %d, %d, %d: %w",
				schema, cases, messages, info.Schema, info.Cases, info.Messages, ErrBadBackup)
		}
		for _, sum := range sums {
			if !raws[sum] {
				return fmt.Errorf("raw %s named by the register is missing: %w", sum, ErrBadBackup)
			}
		}
		return nil
	})
}
