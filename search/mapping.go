package search

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/lang/de"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/regexp"
	bdoc "github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/mapping"
	index "github.com/blevesearch/bleve_index_api"
)

// schemaVersion is stored in the index (internal key keySchema). Raise it with every change
// of the mapping or of document (below): Open then rebuilds an index of another version.
const schemaVersion = "4"

// Internal (non-document) keys of the index.
const (
	keySchema  = "intake.schema"
	keyLastSeq = "intake.lastseq"
	keyNewest  = "intake.newest" // latest Received added, Unix nanoseconds
)

// Field names in the index.
const (
	fReference   = "reference"
	fMailbox     = "mailbox"
	fKind        = "kind"
	fStatus      = "status"
	fFrom        = "from"
	fSender      = "sender"
	fFromName    = "from_name"
	fSubject     = "subject"
	fBody        = "body"
	fAttachments = "attachments"
	fReceived    = "received"
	fOrder       = "order"
)

// textFields are the fields Query.Text searches, each analysed with the German analyzer
// (attachments with its file name variant).
func textFields() []string { return []string{fSubject, fBody, fAttachments, fFromName} }

// Analyzer names: deAnalyzer is bleve's German analyzer; the others are ours (see
// newMapping).
const (
	keywordAnalyzer  = keyword.Name
	deAnalyzer       = de.AnalyzerName
	filenameAnalyzer = "intake_de_filename"
	senderAnalyzer   = "intake_sender"
)

// fieldAnalyzer returns the analyzer name of a text field.
func fieldAnalyzer(field string) string {
	switch field {
	case fAttachments:
		return filenameAnalyzer
	case fSender:
		return senderAnalyzer
	}
	return deAnalyzer
}

// Indexing options of the fields (bleve_index_api FieldIndexingOptions). Text fields keep
// term vectors for phrase queries. The order field has doc values, one chunk per document
// and uncompressed (as bleve does for geo fields): a sorted query reads the sort key of
// every hit, and with the default chunks of 1,024 documents, snappy-compressed, a hit in a
// new chunk decompresses the whole chunk (32 KiB) - the main cost of a query with a few
// thousand scattered hits. (Without IndexField zap writes no doc values for it.)
const (
	optIndex  = index.IndexField
	optStored = index.IndexField | index.StoreField
	optText   = index.IndexField | index.IncludeTermVectors
	optOrder  = index.IndexField | index.DocValues | index.SkipDVChunking | index.SkipDVCompression
)

// document builds the bleve document of d, with the analyzers of the mapping (by name).
// It builds the fields itself instead of letting the mapping walk a struct: that is faster
// and allows the doc value options of the order field, which a mapping cannot set.
// TestDocumentMatchesMapping checks that it uses the analyzers the mapping names.
func document(d *Doc, analyzers map[string]analysis.Analyzer) (*bdoc.Document, error) {
	doc := bdoc.NewDocument(docID(d.Seq))
	add := func(name string, pos []uint64, v string, opts index.FieldIndexingOptions, analyzer string) {
		if v != "" {
			doc.AddField(bdoc.NewTextFieldCustom(name, pos, []byte(v), opts, analyzers[analyzer]))
		}
	}
	add(fReference, nil, d.Reference, optStored, keywordAnalyzer)
	add(fMailbox, nil, d.Mailbox, optIndex, keywordAnalyzer)
	add(fKind, nil, d.Kind, optIndex, keywordAnalyzer)
	add(fStatus, nil, d.Status, optIndex, keywordAnalyzer)
	from := strings.ToLower(strings.TrimSpace(d.From))
	add(fFrom, nil, from, optIndex, keywordAnalyzer)
	add(fSender, []uint64{0}, d.FromName, optIndex, senderAnalyzer)
	add(fSender, []uint64{1}, from, optIndex, senderAnalyzer)
	add(fFromName, nil, d.FromName, optText, fieldAnalyzer(fFromName))
	add(fSubject, nil, d.Subject, optText, fieldAnalyzer(fSubject))
	add(fBody, nil, d.Body, optText, fieldAnalyzer(fBody))
	for i, a := range d.Attachments {
		add(fAttachments, []uint64{uint64(i)}, a, optText, fieldAnalyzer(fAttachments))
	}
	received := clampTime(d.Received)
	f, err := bdoc.NewDateTimeFieldWithIndexingOptions(fReceived, nil, received, time.RFC3339Nano, optStored)
	if err != nil {
		return nil, fmt.Errorf("seq %d: received %v: %w", d.Seq, d.Received, err)
	}
	doc.AddField(f)
	add(fOrder, nil, orderKey(received, d.Seq), optOrder, keywordAnalyzer)
	return doc, nil
}

// orderKey is the sort key of the newest-first order: Received (Unix nanoseconds, sign bit
// flipped so that byte order is numeric order), then Seq, as 32 hex digits (see doc.go,
// Engine, for why the sort does not use the datetime field).
func orderKey(received time.Time, seq uint64) string {
	return fmt.Sprintf("%016x%016x", uint64(received.UnixNano())^1<<63, seq)
}

// clampTime limits t to the bounds of a bleve datetime (document.MinTimeRepresentable,
// document.MaxTimeRepresentable: int64 Unix nanoseconds, years 1677-2262).
func clampTime(t time.Time) time.Time {
	if lo := time.Unix(0, math.MinInt64); t.Before(lo) {
		return lo
	}
	if hi := time.Unix(0, math.MaxInt64); t.After(hi) {
		return hi
	}
	return t
}

// docID is the document ID of a Seq: 20 decimal digits (fixed width, so that the byte
// order of IDs is the numeric order of Seqs).
func docID(seq uint64) string { return fmt.Sprintf("%020d", seq) }

func parseDocID(id string) (uint64, error) {
	seq, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("document id %q: %w", id, err)
	}
	return seq, nil
}

// newMapping builds the index mapping (see doc.go). Nothing is indexed dynamically, there is
// no _all field, and only reference and received are stored.
func newMapping() (*mapping.IndexMappingImpl, error) {
	im := bleve.NewIndexMapping()
	// The sender analyzer: words of addresses and names. The regexp splits at everything
	// that is not a letter or a digit ("hans.mueller@example.org" -> hans mueller example
	// org), unlike UAX #29, which keeps "hans.mueller" and "example.org" whole.
	if err := im.AddCustomTokenizer("intake_alnum", map[string]any{
		"type":   regexp.Name,
		"regexp": `[\p{L}\p{N}]+`,
	}); err != nil {
		return nil, fmt.Errorf("sender tokenizer: %w", err)
	}
	// Attachment names: the German analyzer with the tokenizer above, because UAX #29
	// keeps "Bauantrag_Mueller.pdf" together as "bauantrag_mueller" and "pdf", so that
	// "Bauantrag" would not find it.
	if err := im.AddCustomAnalyzer(filenameAnalyzer, map[string]any{
		"type":          custom.Name,
		"tokenizer":     "intake_alnum",
		"token_filters": []any{lowercase.Name, de.StopName, de.NormalizeName, de.LightStemmerName},
	}); err != nil {
		return nil, fmt.Errorf("file name analyzer: %w", err)
	}
	if err := im.AddCustomAnalyzer(senderAnalyzer, map[string]any{
		"type":          custom.Name,
		"tokenizer":     "intake_alnum",
		"token_filters": []any{lowercase.Name, de.NormalizeName},
	}); err != nil {
		return nil, fmt.Errorf("sender analyzer: %w", err)
	}

	text := func(name string) *mapping.FieldMapping {
		f := bleve.NewTextFieldMapping()
		f.Analyzer = fieldAnalyzer(name)
		f.Store = false
		f.IncludeTermVectors = true // phrase queries need positions
		f.IncludeInAll = false
		f.DocValues = false
		return f
	}
	kw := func(store bool) *mapping.FieldMapping {
		f := bleve.NewKeywordFieldMapping()
		f.Analyzer = keyword.Name
		f.Store = store
		f.IncludeTermVectors = false
		f.IncludeInAll = false
		f.DocValues = false
		return f
	}
	sender := bleve.NewTextFieldMapping()
	sender.Analyzer = senderAnalyzer
	sender.Store = false
	sender.IncludeTermVectors = false
	sender.IncludeInAll = false
	sender.DocValues = false

	received := bleve.NewDateTimeFieldMapping()
	received.Store = true
	received.IncludeInAll = false
	received.DocValues = false // the sort uses order
	order := kw(false)
	order.DocValues = true

	dm := bleve.NewDocumentStaticMapping()
	dm.AddFieldMappingsAt(fReference, kw(true))
	for _, name := range []string{fMailbox, fKind, fStatus, fFrom} {
		dm.AddFieldMappingsAt(name, kw(false))
	}
	dm.AddFieldMappingsAt(fSender, sender)
	for _, name := range textFields() {
		dm.AddFieldMappingsAt(name, text(name))
	}
	dm.AddFieldMappingsAt(fReceived, received)
	dm.AddFieldMappingsAt(fOrder, order)
	all := bleve.NewDocumentDisabledMapping()
	dm.AddSubDocumentMapping("_all", all)

	im.DefaultMapping = dm
	im.DefaultAnalyzer = deAnalyzer
	im.DefaultField = fBody
	im.IndexDynamic = false
	im.StoreDynamic = false
	im.DocValuesDynamic = false
	if err := im.Validate(); err != nil {
		return nil, fmt.Errorf("validate mapping: %w", err)
	}
	return im, nil
}
