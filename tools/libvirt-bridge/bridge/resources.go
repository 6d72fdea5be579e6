// Package bridge maps terraform-provider-libvirt onto the Pulumi package "libvirt" that the PyPI SDK
// pulumi-libvirt expects: its package name, resource and function tokens, and its config. Upstream
// pulumi-libvirt is deprecated and its plugin cannot be downloaded here; this is the local bridge
// its README recommends, written for this repository.
package bridge

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"

	"github.com/dmacvicar/terraform-provider-libvirt/libvirt"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
)

// Version is the version the plugin reports, and the one the SDK asks the engine for. Set at build
// time with -ldflags "-X .../bridge.Version=..." (scripts/setup.sh takes it from the pulumi-libvirt
// pin in pyproject.toml); a plugin built without it refuses to start rather than report a guess.
var Version string

const (
	pkg = "libvirt"
	mod = "index"
	// UpstreamModule is the Terraform provider bridged here; its version is pinned in go.mod only.
	UpstreamModule = "github.com/dmacvicar/terraform-provider-libvirt"
)

// resources: Terraform type -> Pulumi resource name (token libvirt:index/<camel>:<Name>), and the
// upstream doc page where its name differs from the type.
var resources = []struct{ tf, name, doc string }{
	{"libvirt_domain", "Domain", ""},
	{"libvirt_network", "Network", ""},
	{"libvirt_volume", "Volume", ""},
	{"libvirt_pool", "Pool", ""},
	{"libvirt_cloudinit_disk", "CloudInitDisk", "cloudinit.html.markdown"},
	{"libvirt_ignition", "Ignition", "coreos_ignition.html.markdown"},
	{"libvirt_combustion", "Combustion", ""},
}

// dataSources: Terraform type -> Pulumi function name (token libvirt:index/<name>:<name>).
var dataSources = []struct{ tf, name string }{
	{"libvirt_network_dns_host_template", "getNetworkDnsHostTemplate"},
	{"libvirt_network_dns_srv_template", "getNetworkDnsSrvTemplate"},
	{"libvirt_network_dnsmasq_options_template", "getNetworkDnsmasqOptionsTemplate"},
	{"libvirt_node_info", "getNodeInfo"},
	{"libvirt_node_device_info", "getNodeDeviceInfo"},
	{"libvirt_node_devices", "getNodeDevices"},
}

// Provider is the bridge's mapping. The version must have been baked in.
func Provider() tfbridge.ProviderInfo {
	if Version == "" {
		fmt.Fprintln(os.Stderr, os.Args[0]+": built without a version; build it with "+
			"-ldflags \"-X pulumi-libvirt-storage/tools/libvirt-bridge/bridge.Version=X.Y.Z\" (scripts/setup.sh does)")
		os.Exit(1)
	}
	info := tfbridge.ProviderInfo{
		P:           shimv2.NewProvider(libvirt.Provider()),
		Name:        "libvirt",
		GitHubOrg:   "dmacvicar",
		Version:     Version,
		Description: "libvirt domains, networks, pools and volumes: a local bridge of " + UpstreamModule,
		Keywords:    []string{"pulumi", "libvirt", "category/infrastructure"},
		License:     "Apache-2.0",
		// terraform-provider-libvirt is Apache 2.0 licensed, not the bridge's default MPL 2.0.
		TFProviderLicense: tfbridge.Ref(tfbridge.Apache20LicenseType),
		Config: map[string]*tfbridge.SchemaInfo{
			// Optional for Pulumi, as for the Terraform provider: LIBVIRT_DEFAULT_URI otherwise.
			"uri": {Default: &tfbridge.DefaultInfo{EnvVars: []string{"LIBVIRT_DEFAULT_URI"}}},
		},
		Resources:   map[string]*tfbridge.ResourceInfo{},
		DataSources: map[string]*tfbridge.DataSourceInfo{},
	}
	for _, r := range resources {
		ri := &tfbridge.ResourceInfo{Tok: tfbridge.MakeResource(pkg, mod, r.name)}
		if r.doc != "" {
			ri.Docs = &tfbridge.DocInfo{Source: r.doc}
		}
		info.Resources[r.tf] = ri
	}
	for _, d := range dataSources {
		info.DataSources[d.tf] = &tfbridge.DataSourceInfo{Tok: tfbridge.MakeDataSource(pkg, mod, d.name)}
	}
	return info
}

// WithUpstreamDocs points tfgen at the upstream module's own source in the Go module cache, the
// exact version compiled in, so the schema carries its descriptions. tfgen would otherwise look
// for a provider/ directory beside where it runs. Without the docs the schema is still complete.
func WithUpstreamDocs(info tfbridge.ProviderInfo) tfbridge.ProviderInfo {
	dir, err := upstreamDir()
	if err != nil {
		fmt.Fprintf(os.Stderr, "warning: no upstream docs, the schema will have no descriptions: %v\n", err)
		return info
	}
	info.UpstreamRepoPath = dir
	return info
}

func upstreamDir() (string, error) {
	build, ok := debug.ReadBuildInfo()
	if !ok {
		return "", fmt.Errorf("no build information in this binary")
	}
	for _, dep := range build.Deps {
		if dep.Path != UpstreamModule {
			continue
		}
		out, err := exec.Command("go", "mod", "download", "-json", dep.Path+"@"+dep.Version).Output()
		if err != nil {
			return "", fmt.Errorf("go mod download %s@%s: %w", dep.Path, dep.Version, err)
		}
		var got struct{ Dir, Error string }
		if err := json.Unmarshal(out, &got); err != nil {
			return "", err
		}
		if got.Error != "" || got.Dir == "" {
			return "", fmt.Errorf("go mod download %s@%s: %s", dep.Path, dep.Version, got.Error)
		}
		return got.Dir, nil
	}
	return "", fmt.Errorf("%s is not among this binary's dependencies", UpstreamModule)
}
