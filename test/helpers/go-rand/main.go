// Command go-rand prints reference vectors from Go's standard library for the IPAM tests of
// libcalico-ts: math/rand outputs, big.Int.Rand draws and FNV-1 hashes, exactly as
// libcalico-go's per-host block generator uses them. Standard library only; built at test
// time with GO111MODULE=off.
//
// Usage:
//
//	go-rand cooked            the 607 seeding constants of math/rand, recovered from a seeded source
//	go-rand vectors < input   one JSON object per input line "host numBlocks [draws]"
//	go-rand int63 SEED COUNT  the first COUNT Int63 values of rand.NewSource(SEED)
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/big"
	"math/rand"
	"os"
	"reflect"
	"strconv"
	"strings"
	"unsafe"
)

const stateLen = 607
const modulus = (1 << 31) - 1

// parkMiller advances the seeding generator by one step (48271 * x mod 2^31-1).
func parkMiller(x int64) int64 { return (48271 * x) % modulus }

// cooked recovers the seeding constants: a seeded source stores, in its state vector, the
// seeding values XOR the constants, and the seeding values can be recomputed independently.
func cooked() []int64 {
	src := rand.NewSource(1)
	v := reflect.ValueOf(src).Elem().FieldByName("vec")
	vec := *(*[stateLen]int64)(unsafe.Pointer(v.UnsafeAddr()))
	out := make([]int64, stateLen)
	x := int64(1)
	for i := -20; i < stateLen; i++ {
		x = parkMiller(x)
		if i >= 0 {
			u := x << 40
			x = parkMiller(x)
			u ^= x << 20
			x = parkMiller(x)
			u ^= x
			out[i] = vec[i] ^ u
		}
	}
	return out
}

func fnv1(s string) uint32 {
	h := fnv.New32()
	h.Write([]byte(s))
	return h.Sum32()
}

type vector struct {
	Host      string   `json:"host"`
	Fnv1      uint32   `json:"fnv1"`
	NumBlocks string   `json:"numBlocks"`
	Draws     []string `json:"draws"`
	Int63     []string `json:"int63"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go-rand cooked | vectors | int63 SEED COUNT")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "cooked":
		for _, c := range cooked() {
			fmt.Println(c)
		}
	case "int63":
		seed, _ := strconv.ParseInt(os.Args[2], 10, 64)
		count, _ := strconv.Atoi(os.Args[3])
		r := rand.New(rand.NewSource(seed))
		for i := 0; i < count; i++ {
			fmt.Println(r.Int63())
		}
	case "vectors":
		scanner := bufio.NewScanner(os.Stdin)
		enc := json.NewEncoder(os.Stdout)
		for scanner.Scan() {
			fields := strings.Fields(scanner.Text())
			if len(fields) < 2 {
				continue
			}
			host := fields[0]
			n, ok := new(big.Int).SetString(fields[1], 10)
			if !ok {
				fmt.Fprintln(os.Stderr, "bad numBlocks", fields[1])
				os.Exit(2)
			}
			draws := 1
			if len(fields) > 2 {
				draws, _ = strconv.Atoi(fields[2])
			}
			h := fnv1(host)
			v := vector{Host: host, Fnv1: h, NumBlocks: n.String()}
			// The same seeding as libcalico-go: the uint32 hash widened to int64.
			r := rand.New(rand.NewSource(int64(h)))
			for i := 0; i < draws; i++ {
				v.Draws = append(v.Draws, new(big.Int).Rand(r, n).String())
			}
			r2 := rand.New(rand.NewSource(int64(h)))
			for i := 0; i < 4; i++ {
				v.Int63 = append(v.Int63, strconv.FormatInt(r2.Int63(), 10))
			}
			if err := enc.Encode(v); err != nil {
				os.Exit(1)
			}
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
}
