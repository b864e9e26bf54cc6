// Command cni-driver is a tiny CNI runtime built on libcni (the reference runtime library), used by
// the libcalico-ts CNI tests and benchmark. It runs one CNI operation and prints the outcome:
//
//	cni-driver [flags] add|del|check|gc|status|version <netconf file> [netns path] [container id]
//
// Flags: -path (CNI_PATH, colon separated), -cache (libcni cache dir), -ifname (default eth0),
// -args (CNI_ARGS as K=V;K=V), -valid (GC: JSON list of {"containerID","ifname"}), -raw FILE
// (also write the plugin's raw stdout of the last ADD there).
//
// On success it prints the result JSON (ADD), the version info (VERSION) or nothing and exits 0.
// On failure it prints the CNI error JSON ({"code","msg","details"}) and exits 1; errors that did
// not come from a plugin are printed with code 0.
//
// The netconf file may be a network configuration list (with "plugins") or a single plugin
// configuration. libcni v1.1 implements CNI spec up to 1.0.0: configurations of version 1.1.0
// (and every GC / STATUS call, which only 1.1.0 defines) are executed here the way libcni >= 1.2
// does it (same environment, same injected keys), caching the ADD result for CHECK and DEL.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

// recordingExec wraps the default exec to keep the raw stdout of the last plugin run.
type recordingExec struct {
	invoke.RawExec
	version.PluginDecoder
	last []byte
}

func (e *recordingExec) ExecPlugin(ctx context.Context, path string, stdin []byte, env []string) ([]byte, error) {
	out, err := e.RawExec.ExecPlugin(ctx, path, stdin, env)
	e.last = out
	return out, err
}

func (e *recordingExec) FindInPath(plugin string, paths []string) (string, error) {
	return invoke.FindInPath(plugin, paths)
}

func fail(err error) {
	var cniErr *types.Error
	if !errors.As(err, &cniErr) {
		cniErr = &types.Error{Code: 0, Msg: err.Error()}
	}
	out, _ := json.Marshal(cniErr)
	fmt.Println(string(out))
	os.Exit(1)
}

func parseArgs(s string) [][2]string {
	var out [][2]string
	for _, kv := range strings.Split(s, ";") {
		if kv == "" {
			continue
		}
		parts := strings.SplitN(kv, "=", 2)
		if len(parts) != 2 {
			fail(fmt.Errorf("bad -args entry %q", kv))
		}
		out = append(out, [2]string{parts[0], parts[1]})
	}
	return out
}

func loadList(file string) *libcni.NetworkConfigList {
	data, err := os.ReadFile(file)
	if err != nil {
		fail(err)
	}
	var probe map[string]interface{}
	if err := json.Unmarshal(data, &probe); err == nil {
		if _, ok := probe["plugins"]; ok {
			list, err := libcni.ConfListFromBytes(data)
			if err != nil {
				fail(err)
			}
			return list
		}
	}
	conf, err := libcni.ConfFromBytes(data)
	if err != nil {
		fail(err)
	}
	list, err := libcni.ConfListFromConf(conf)
	if err != nil {
		fail(err)
	}
	return list
}

// manual runs the plugins of a 1.1.0 list (or GC/STATUS) as libcni >= 1.2 would.
type manual struct {
	exec    *recordingExec
	path    []string
	cache   string
	list    *libcni.NetworkConfigList
	rt      *libcni.RuntimeConf
	argsStr string
}

func (m *manual) cacheFile() string {
	return filepath.Join(m.cache, "manual", m.list.Name+"-"+m.rt.ContainerID+"-"+m.rt.IfName)
}

func (m *manual) env(command string) []string {
	a := &invoke.Args{Command: command, ContainerID: m.rt.ContainerID, NetNS: m.rt.NetNS, IfName: m.rt.IfName, PluginArgs: m.rt.Args, Path: strings.Join(m.path, ":")}
	if command == "GC" || command == "STATUS" {
		a = &invoke.Args{Command: command, Path: strings.Join(m.path, ":")}
	}
	return a.AsEnv()
}

func (m *manual) conf(plugin *libcni.NetworkConfig, extra map[string]interface{}) []byte {
	inject := map[string]interface{}{"name": m.list.Name, "cniVersion": m.list.CNIVersion}
	for k, v := range extra {
		inject[k] = v
	}
	conf, err := libcni.InjectConf(plugin, inject)
	if err != nil {
		fail(err)
	}
	return conf.Bytes
}

func (m *manual) run(ctx context.Context, command string, extra map[string]interface{}, plugins []*libcni.NetworkConfig) []byte {
	var out []byte
	for _, plugin := range plugins {
		p, err := m.exec.FindInPath(plugin.Network.Type, m.path)
		if err != nil {
			fail(err)
		}
		out, err = m.exec.ExecPlugin(ctx, p, m.conf(plugin, extra), m.env(command))
		if err != nil {
			fail(err)
		}
		if command == "ADD" {
			var prev map[string]interface{}
			if err := json.Unmarshal(out, &prev); err != nil {
				fail(fmt.Errorf("plugin %s printed an invalid result: %v", plugin.Network.Type, err))
			}
			extra = map[string]interface{}{"prevResult": prev}
		}
	}
	return out
}

func (m *manual) prevResult() map[string]interface{} {
	data, err := os.ReadFile(m.cacheFile())
	if err != nil {
		return nil
	}
	var prev map[string]interface{}
	_ = json.Unmarshal(data, &prev)
	return map[string]interface{}{"prevResult": prev}
}

func reversed(in []*libcni.NetworkConfig) []*libcni.NetworkConfig {
	out := make([]*libcni.NetworkConfig, len(in))
	for i, p := range in {
		out[len(in)-1-i] = p
	}
	return out
}

func main() {
	cniPath := flag.String("path", "/opt/cni/bin", "CNI_PATH (colon separated)")
	cacheDir := flag.String("cache", "", "libcni cache directory")
	ifName := flag.String("ifname", "eth0", "CNI_IFNAME")
	args := flag.String("args", "", "CNI_ARGS (K=V;K=V)")
	valid := flag.String("valid", "[]", "GC: JSON list of valid attachments")
	rawFile := flag.String("raw", "", "write the plugin's raw ADD stdout to this file")
	flag.Parse()
	pos := flag.Args()
	if len(pos) < 1 {
		fail(errors.New("usage: cni-driver [flags] add|del|check|gc|status|version <netconf> [netns] [container id]"))
	}
	command := strings.ToLower(pos[0])
	path := strings.Split(*cniPath, ":")
	exec := &recordingExec{RawExec: invoke.RawExec{Stderr: os.Stderr}}
	cni := libcni.NewCNIConfigWithCacheDir(path, *cacheDir, exec)
	ctx := context.Background()

	if command == "version" {
		if len(pos) < 2 {
			fail(errors.New("version needs a plugin type"))
		}
		p, err := exec.FindInPath(pos[1], path)
		if err != nil {
			fail(err)
		}
		// GetVersionInfo of libcni v1.1 rejects unknown spec versions; print the raw answer.
		out, err := exec.ExecPlugin(ctx, p, []byte("{}"), (&invoke.Args{Command: "VERSION", Path: *cniPath}).AsEnv())
		if err != nil {
			fail(err)
		}
		fmt.Println(strings.TrimSpace(string(out)))
		return
	}
	if len(pos) < 2 {
		fail(errors.New("missing netconf file"))
	}
	list := loadList(pos[1])
	rt := &libcni.RuntimeConf{IfName: *ifName, Args: parseArgs(*args), CacheDir: *cacheDir}
	if len(pos) > 2 {
		rt.NetNS = pos[2]
	}
	if len(pos) > 3 {
		rt.ContainerID = pos[3]
	}
	m := &manual{exec: exec, path: path, cache: *cacheDir, list: list, rt: rt}
	newSpec := list.CNIVersion == "1.1.0"

	switch command {
	case "add":
		var out []byte
		if newSpec {
			out = m.run(ctx, "ADD", nil, list.Plugins)
			_ = os.MkdirAll(filepath.Dir(m.cacheFile()), 0o700)
			if err := os.WriteFile(m.cacheFile(), out, 0o600); err != nil {
				fail(err)
			}
		} else {
			result, err := cni.AddNetworkList(ctx, list, rt)
			if err != nil {
				fail(err)
			}
			if out, err = json.Marshal(result); err != nil {
				fail(err)
			}
		}
		if *rawFile != "" {
			_ = os.WriteFile(*rawFile, exec.last, 0o600)
		}
		fmt.Println(string(out))
	case "del":
		if newSpec {
			m.run(ctx, "DEL", m.prevResult(), reversed(list.Plugins))
			_ = os.Remove(m.cacheFile())
		} else if err := cni.DelNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
	case "check":
		if newSpec {
			m.run(ctx, "CHECK", m.prevResult(), list.Plugins)
		} else if err := cni.CheckNetworkList(ctx, list, rt); err != nil {
			fail(err)
		}
	case "gc":
		var attachments []map[string]string
		if err := json.Unmarshal([]byte(*valid), &attachments); err != nil {
			fail(fmt.Errorf("bad -valid: %v", err))
		}
		// libcni >= 1.2 injects both names (the spec's and the one an early release used).
		m.run(ctx, "GC", map[string]interface{}{"cni.dev/valid-attachments": attachments, "cni.dev/attachments": attachments}, list.Plugins)
	case "status":
		m.run(ctx, "STATUS", nil, list.Plugins)
	default:
		fail(fmt.Errorf("unknown command %q", command))
	}
}
