// Package lettergen writes realistic German letters of citizens to an
// office, deterministically, for benchmarks (cmd/intake-bench): letter i
// depends only on the seed and i, so a benchmark can rebuild any letter, and
// pick words and phrases it contains, without keeping the corpus in memory.
//
// The vocabulary is about 3,800 content words (compounds of administrative
// roots and heads such as "Bauantrag" or "Parkgebühr", nouns with their
// plurals, verbs, adjectives), drawn with a Zipf distribution (s = 1.1,
// v = 2) and mixed with German function words (42 % of the words), numbers,
// dates, streets, amounts and names, as in real mail. Bodies average about
// 1.9 KB. It follows the approach of the search package's test generator;
// the tables here are its own.
package lettergen
