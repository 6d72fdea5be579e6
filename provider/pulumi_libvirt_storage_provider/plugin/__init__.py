"""The provider plugin `pulumi-resource-libvirt-storage`: Pulumi's resource-provider protocol over
the same core as the dynamic provider (server.py)."""
