// pulumi-tfgen-libvirt writes the Pulumi schema of the bridge: `pulumi-tfgen-libvirt schema --out DIR`.
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	"pulumi-libvirt-storage/tools/libvirt-bridge/bridge"
)

func main() {
	tfgen.Main("libvirt", bridge.Version, bridge.WithUpstreamDocs(bridge.Provider()))
}
