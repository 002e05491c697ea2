package config

import _ "embed" // for Example

// Example is a complete, commented configuration file for a German state
// chancellery (prefix STK, address poststelle@stk.example.de), documenting
// every key. "intake config example" prints it. It is shared: treat it as
// read-only and copy it before changing it.
//
//go:embed example.toml
var Example []byte
