// tlogcheck verifies a vault journal export (C2SP tlog-tiles layout) with Go's golang.org/x/mod/sumdb
// packages, independently of vault's own Python code. Usage:
//
//	tlogcheck DIR [INDEX ...]
//
// DIR holds `checkpoint` (a C2SP signed note), `vkey` (its verifier key), `tile/<L>/<N>[.p/<W>]` and
// `tile/entries/<N>[.p/<W>]`. The checker opens the note with the key, recomputes every record hash from
// the entry bundles and every stored hash with tlog.StoredHashes (it never trusts a tile: the tile reader
// of older x/mod releases does not check tiles against their parents), compares every tile file with the
// recomputed hashes, compares tlog.TreeHash with the checkpoint's root, and prints one JSON object with the
// root and, for each INDEX, Go's own RFC 6962 inclusion proof (tlog.ProveRecord) checked by tlog.CheckRecord.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "tlogcheck: "+format+"\n", args...)
	os.Exit(1)
}

func tilePath(level int, n int64, width int64) string {
	digits := fmt.Sprintf("%03d", n)
	for len(digits)%3 != 0 {
		digits = "0" + digits
	}
	var parts []string
	for i := 0; i < len(digits); i += 3 {
		parts = append(parts, digits[i:i+3])
	}
	for i := 0; i < len(parts)-1; i++ {
		parts[i] = "x" + parts[i]
	}
	kind := strconv.Itoa(level)
	if level < 0 {
		kind = "entries"
	}
	p := "tile/" + kind + "/" + strings.Join(parts, "/")
	if width < 256 {
		p += ".p/" + strconv.FormatInt(width, 10)
	}
	return p
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: tlogcheck DIR [INDEX ...]")
	}
	dir := os.Args[1]
	vkey, err := os.ReadFile(filepath.Join(dir, "vkey"))
	if err != nil {
		fail("%v", err)
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		fail("verifier key: %v", err)
	}
	msg, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		fail("%v", err)
	}
	opened, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		fail("checkpoint signature: %v", err)
	}
	lines := strings.Split(opened.Text, "\n")
	if len(lines) < 4 {
		fail("checkpoint has too few lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("checkpoint size: %v", err)
	}
	rootBytes, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(rootBytes) != tlog.HashSize {
		fail("checkpoint root hash is malformed")
	}
	var root tlog.Hash
	copy(root[:], rootBytes)

	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			if x >= int64(len(stored)) {
				return nil, fmt.Errorf("hash %d not computed", x)
			}
			out[i] = stored[x]
		}
		return out, nil
	})
	var records int64
	for n := int64(0); records < size; n++ {
		width := size - n*256
		if width > 256 {
			width = 256
		}
		data, err := os.ReadFile(filepath.Join(dir, tilePath(-1, n, width)))
		if err != nil {
			fail("entry bundle %d: %v", n, err)
		}
		for len(data) > 0 {
			if len(data) < 2 {
				fail("entry bundle %d ends inside a length", n)
			}
			length := int(binary.BigEndian.Uint16(data))
			if len(data) < 2+length {
				fail("entry bundle %d ends inside an entry", n)
			}
			hashes, err := tlog.StoredHashes(records, data[2:2+length], reader)
			if err != nil {
				fail("record %d: %v", records, err)
			}
			stored = append(stored, hashes...)
			records++
			data = data[2+length:]
		}
	}
	if records != size {
		fail("entry bundles hold %d records, the checkpoint says %d", records, size)
	}
	computed, err := tlog.TreeHash(size, reader)
	if err != nil {
		fail("tree hash: %v", err)
	}
	if computed != root {
		fail("recomputed root %s differs from the checkpoint's %s", computed, root)
	}
	tiles := 0
	for level, count := 0, size; count > 0; level, count = level+1, count>>8 {
		for n := int64(0); n*256 < count; n++ {
			width := count - n*256
			if width > 256 {
				width = 256
			}
			data, err := os.ReadFile(filepath.Join(dir, tilePath(level, n, width)))
			if err != nil {
				fail("tile %s: %v", tilePath(level, n, width), err)
			}
			var want bytes.Buffer
			for i := int64(0); i < width; i++ {
				h := stored[tlog.StoredHashIndex(8*level, n*256+i)]
				want.Write(h[:])
			}
			if !bytes.Equal(data, want.Bytes()) {
				fail("tile %s does not match the recomputed hashes", tilePath(level, n, width))
			}
			tiles++
		}
	}
	proofs := map[string][]string{}
	for _, arg := range os.Args[2:] {
		index, err := strconv.ParseInt(arg, 10, 64)
		if err != nil {
			fail("index %q: %v", arg, err)
		}
		proof, err := tlog.ProveRecord(size, index, reader)
		if err != nil {
			fail("prove %d: %v", index, err)
		}
		leaf := stored[tlog.StoredHashIndex(0, index)]
		if err := tlog.CheckRecord(proof, size, root, index, leaf); err != nil {
			fail("check %d: %v", index, err)
		}
		var encoded []string
		for _, h := range proof {
			encoded = append(encoded, base64.StdEncoding.EncodeToString(h[:]))
		}
		proofs[arg] = encoded
	}
	out, _ := json.Marshal(map[string]interface{}{
		"origin": lines[0], "size": size, "root": base64.StdEncoding.EncodeToString(root[:]),
		"tiles": tiles, "proofs": proofs,
	})
	fmt.Println(string(out))
}
