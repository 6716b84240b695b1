"""The ONE Bus client SDK."""
