// pulumi-resource-libvirt is the provider plugin the Pulumi engine starts for package "libvirt".
package main

import (
	_ "embed"

	"github.com/dmacvicar/terraform-provider-libvirt/libvirt"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	"pulumi-libvirt-storage/tools/libvirt-bridge/bridge"
)

// The schema pulumi-tfgen-libvirt generated from the same mapping; written here by the build
// (scripts/setup.sh), never committed.
//
//go:embed schema.json
var schema []byte

func main() {
	defer libvirt.CleanupLibvirtConnections()
	tfbridge.Main("libvirt", bridge.Version, bridge.Provider(), schema)
}
