// Package corpus finds the shared public mail corpus (../shared/corpus, see
// its README) for the tests: where it is and what labels.tsv says of each
// file. In CI a missing corpus fails the test; elsewhere the caller decides
// whether to skip.
package corpus
