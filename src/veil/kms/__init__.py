"""The key broker the tenant trusts: function keys, secrets, signed function records."""
