// Command calico-shim forwards one CNI invocation to calico-cni-server (thick-plugin mode, see
// ../src/server.ts) and prints its reply. It is started by the launchers in ../bin:
//
//	calico-shim <plugin> <socket path> <launcher path>
//
// It sends {"plugin", "env", "stdin"} and a newline on the unix socket, then copies the reply's
// stderr and stdout and exits with its exit code. When nothing answers on the socket, nothing has
// been read from stdin yet, and the shim execs the launcher again with CALICO_CNI_SHIM_FALLBACK=1,
// which runs the plugin in its own process. Once stdin was sent, a broken connection is reported
// as a CNI error (code 999) rather than retried, so an invocation never runs twice.
//
// Standard library only; built by ../build.mjs when a Go toolchain is present.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

type request struct {
	Plugin string            `json:"plugin"`
	Env    map[string]string `json:"env"`
	Stdin  string            `json:"stdin"`
}

type reply struct {
	ExitCode *int    `json:"exitCode"`
	Stdout   *string `json:"stdout"`
	Stderr   string  `json:"stderr"`
}

// fail prints a CNI error in the NetConf's version (when it can be read) and exits 1.
func fail(stdin []byte, format string, args ...interface{}) {
	var conf struct {
		CNIVersion string `json:"cniVersion"`
	}
	_ = json.Unmarshal(stdin, &conf)
	if conf.CNIVersion == "" {
		conf.CNIVersion = "1.1.0"
	}
	out, _ := json.MarshalIndent(map[string]interface{}{"cniVersion": conf.CNIVersion, "code": 999, "msg": fmt.Sprintf(format, args...)}, "", "    ")
	os.Stdout.Write(out)
	os.Exit(1)
}

func fallback(launcher string) {
	env := append(os.Environ(), "CALICO_CNI_SHIM_FALLBACK=1")
	err := syscall.Exec("/bin/sh", []string{"sh", launcher}, env)
	fmt.Fprintf(os.Stderr, "calico-shim: cannot run %s: %v\n", launcher, err)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: calico-shim <plugin> <socket> <launcher>")
		os.Exit(2)
	}
	plugin, socket, launcher := os.Args[1], os.Args[2], os.Args[3]
	conn, err := net.DialTimeout("unix", socket, 2*time.Second)
	if err != nil {
		fallback(launcher)
	}
	defer conn.Close()
	stdin, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(nil, "calico-shim: reading stdin: %v", err)
	}
	env := make(map[string]string)
	for _, kv := range os.Environ() {
		if i := strings.IndexByte(kv, '='); i > 0 {
			env[kv[:i]] = kv[i+1:]
		}
	}
	body, err := json.Marshal(request{Plugin: plugin, Env: env, Stdin: string(stdin)})
	if err != nil {
		fail(stdin, "calico-shim: encoding the request: %v", err)
	}
	if _, err := conn.Write(append(body, '\n')); err != nil {
		fail(stdin, "calico CNI server at %s failed: %v", socket, err)
	}
	line, err := bufio.NewReaderSize(conn, 64*1024).ReadBytes('\n')
	if err != nil && !(err == io.EOF && len(line) > 0) {
		fail(stdin, "calico CNI server at %s failed: %v", socket, err)
	}
	var r reply
	if err := json.Unmarshal(line, &r); err != nil || r.ExitCode == nil || r.Stdout == nil {
		fail(stdin, "calico CNI server at %s sent a malformed reply", socket)
	}
	os.Stderr.WriteString(r.Stderr)
	os.Stdout.WriteString(*r.Stdout)
	os.Exit(*r.ExitCode)
}
