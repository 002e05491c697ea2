// Package search is the full-text index of the register: it finds the messages of cases by
// reference, sender, name or any word of subject, body and attachment names, filtered by the
// mailboxes a clerk may see, kind, status and date of receipt, newest first.
//
// # Derived data
//
// The index is derived data beside the register (package ticket), never the source of truth.
// It is fed as mails arrive (Add), told about status changes (Update) and deletions
// (Delete), and can be rebuilt from the register at any time (Fill). Nothing in it is needed
// to register a mail or to send its acknowledgement: a broken or missing index is rebuilt,
// never a reason to stop intake. Open therefore never fails on a damaged index: it moves
// the damaged directory aside to DIR.broken (replacing an older one), creates an empty index
// and reports Rebuilt() == true; the caller then refills it from the register in the
// background. Open refuses only what it must not touch: an index locked by another process
// (ErrLocked) and a directory that holds something other than an index.
//
// Only Seq (the document ID), Reference and Received are stored; everything else is indexed
// but not stored, because the register holds it. A hit therefore carries just enough to look
// the case up in the register.
//
// # Engine
//
// The index is a bleve v2 index of type scorch (segment files plus a bolt root file in DIR).
// Subject, Body, Attachments and FromName are analysed with bleve's German analyzer "de":
// Unicode word segmentation (UAX #29), lower case, German stop words removed, the German
// normalisation of Lucene's GermanNormalizationFilter (ä, ö, ü → a, o, u; "ae", "oe" → a,
// o; "ue" → u unless after a vowel or q; ß → ss) and Lucene's GermanLightStemmer (J. Savoy,
// "Light stemming approaches for the French, Portuguese, German and Hungarian languages",
// UniNE), which strips plural and case endings: "Anträge", "Anträgen", "Antrags" and "Antrag" all become
// "antrag"; "Grünflächen", "Gruenflaeche" and "Grünfläche" all become "grunflach". Compound
// words are NOT split: "Bauantrag" does not match "Antrag"; and the stemmer conflates some
// words ("Bauer" and "Bau" both become "bau", "größer" and "groß" both "gross").
// Attachment names use the same filters with the tokenizer of the sender field below,
// because UAX #29 keeps "Bauantrag_Mueller.pdf" together as "bauantrag_mueller". These
// fields keep term vectors (positions), which phrase queries need.
//
// Reference, Mailbox, Kind, Status and From (lower-cased) are keyword fields: one exact term
// each. The sender field holds the words of From and FromName (split at every character that
// is not a letter or a digit, lower case, umlauts folded like above, no stemming), so that
// Query.Sender finds "mueller" in hans.mueller@example.org and "Müller" in "Hans Müller".
// Received is a datetime field for the range filters (and stored). The newest-first sort
// uses a keyword field "order" with doc values: Received and Seq as 32 hex digits, one term
// per document (see orderKey: sorting on the datetime itself decodes 16 terms per hit and a
// tie-break on the document ID looks up every hit's ID, which made the sort three times
// slower).
//
// # Durability
//
// Scorch makes a batch searchable at once and persists it asynchronously, shortly after.
// Add records the highest Seq it was given in the same batch (LastSeq), so after a crash
// LastSeq tells where the persisted index ends; the caller re-adds what came after it
// (re-adding is harmless: documents are keyed by Seq). Update and Delete wait until their
// batch is persisted, because no watermark covers them.
//
// # Compatibility
//
// schemaVersion (mapping.go) is stored in the index. Any change of the mapping or of how
// documents are built must raise it: Open then finds an index of another version, treats it
// like a damaged one and the caller rebuilds it.
package search
