"""pulumi-libvirt-storage: the provider (both front ends) and the layers below them."""

__version__ = "0.1.0"
