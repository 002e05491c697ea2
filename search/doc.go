// Package search is the full-text index of the register: it finds the messages of cases by
// reference, sender, name or any word of subject, body and attachment names, filtered by the
// mailboxes a clerk may see, kind, status and date of receipt, newest first.
//
// # Derived data
//
// The index is derived data beside the register (package ticket), never the source of
// truth. It is fed as mails arrive (Add), told about status changes (Update) and deletions
// (Delete), and can be rebuilt from the register at any time (Fill). Nothing in it is
// needed to register a mail or to send its acknowledgement: a broken or missing index is
// rebuilt, never a reason to stop intake.
//
// Open therefore does not fail on a damaged index. It moves a directory it cannot use aside
// to DIR.broken (replacing an older one), creates an empty index and reports
// Rebuilt() == true; the caller then refills it from the register in the background while
// intake goes on. Unusable means: bleve cannot open it; its latest snapshot cannot be loaded
// (scorch would silently fall back to an older one - persister.go, loadFromBolt); a segment
// file fails the CRC-32 in its footer (Options.SkipChecksums skips this read of the whole
// index); it was written with another schemaVersion; or reading a document fails. Open
// refuses only what it must not touch: an index locked by another process (ErrLocked) and a
// directory that holds something other than an index (ErrNotIndex). A panic of bleve on
// damaged data is returned as ErrCorrupt; Reset then starts over empty.
//
// Only Seq (the document ID), Reference and Received are stored; everything else is indexed
// but not stored, because the register holds it. A hit carries just enough to look the case
// up in the register.
//
// # Engine
//
// The index is a bleve v2 index of type scorch (segment files plus a bolt root file in
// DIR). Subject, Body, Attachments and FromName are analysed with bleve's German analyzer
// "de": Unicode word segmentation (UAX #29), lower case, German stop words removed, the
// normalisation of Lucene's GermanNormalizationFilter (ä, ö, ü → a, o, u; "ae", "oe" → a, o;
// "ue" → u unless after a vowel or q; ß → ss) and Lucene's GermanLightStemmer (J. Savoy,
// "Light stemming approaches for the French, Portuguese, German and Hungarian languages",
// UniNE), which strips plural and case endings: "Anträge", "Anträgen", "Antrags" and
// "Antrag" all become "antrag"; "Grünflächen", "Gruenflaeche" and "Grünfläche" all become
// "grunflach". Compound words are NOT split: "Bauantrag" does not match "Antrag". The
// stemmer conflates some words ("Bauer" and "Bau" both become "bau", "größer" and "groß"
// both "gross"). Attachment names use the same filters with the tokenizer of the sender
// field below, because UAX #29 keeps "Bauantrag_Mueller.pdf" together as
// "bauantrag_mueller". These fields keep term vectors (positions), which phrases need.
//
// Reference, Mailbox, Kind, Status and From (lower-cased) are keyword fields: one exact term
// each. The sender field holds the words of From and FromName (split at every character
// that is not a letter or a digit, lower case, umlauts folded like above, no stemming), so
// that Query.Sender finds "mueller" in hans.mueller@example.org and "Müller" in
// "Hans Müller". Received is a datetime field for the range filters (and stored).
//
// The newest-first sort uses a keyword field "order" with doc values: Received and Seq as
// 32 hex digits, one term per document (orderKey), its doc values neither chunked nor
// compressed (as bleve does for geo fields). Sorting on the datetime itself decodes its 16
// prefix-coded terms for every hit, a tie-break on the document ID looks up every hit's ID,
// and a chunked doc value decompresses 1,024 documents' values for a hit in a new chunk:
// together they made a query with 8,000 scattered hits in 1,000,000 documents take 24 ms
// instead of 3 ms.
//
// Documents are built field by field (document), not by bleve's mapping walking a struct: it
// is faster and the mapping cannot set the doc value options. The mapping (newMapping)
// still names every field's analyzer for the queries; TestDocumentMatchesMapping keeps the
// two in step.
//
// # Search
//
// Query.Text is split into words and "quoted phrases"; every word or phrase must match (in
// subject, body, attachment names, or the sender's name or address; a word that is a case
// reference also matches the case and the messages that mention it). Sender, Mailboxes,
// Kind, Status, Since and Until filter. Hits come newest first (Received, then Seq), or by
// relevance with SortByScore.
//
// Sorting newest first costs time for every match, not only for the page shown, and a
// phrase reads the positions of every document that has all its words. A query that would
// walk very many postings (estimated from the document frequencies of its terms before it
// runs) is therefore run over the newest messages first - the last week, 4 weeks, 16, 64,
// 256 weeks, then everything - and stops at the first period with more matches than the
// page needs. Its hits are the same; only Result.Total then counts the matches of that
// period and
// Result.TotalAtLeast is set ("mehr als 3.512 Treffer"). This bounds the cost of a frequent
// word or phrase on a million messages. A search by score is never cut short.
//
// # Durability
//
// Scorch makes a batch searchable at once and persists it asynchronously, shortly after;
// Close waits for it. Add records the highest Seq it was given in the same batch (LastSeq),
// so after a crash LastSeq tells where the persisted index ends; the caller re-adds what
// came after it (re-adding is harmless: documents are keyed by Seq). Update and Delete wait
// until their batch is persisted, because no watermark covers them.
//
// # Compatibility
//
// schemaVersion (mapping.go) is stored in the index. Any change of the mapping or of how
// documents are built must raise it: Open then finds an index of another version, treats
// it like a damaged one and the caller rebuilds it.
package search
