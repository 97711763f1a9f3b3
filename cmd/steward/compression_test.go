package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
)

func TestCompressionFor(t *testing.T) {
	for hostPort, want := range map[string]client.GrpcCompression{
		"127.0.0.1:7233":             &client.GrpcCompressionNone{},
		"localhost:7233":             &client.GrpcCompressionNone{},
		"[::1]:7233":                 &client.GrpcCompressionNone{},
		"127.0.0.2:7233":             &client.GrpcCompressionNone{},
		"10.0.0.5:7233":              &client.GrpcCompressionGzip{},
		"temporal.example.com:7233":  &client.GrpcCompressionGzip{},
		"ns.tmprl.cloud:7233":        &client.GrpcCompressionGzip{},
		"localhost.example.com:7233": &client.GrpcCompressionGzip{},
		"temporal-frontend":          &client.GrpcCompressionGzip{},
	} {
		got, err := compressionFor(hostPort)
		require.NoError(t, err, hostPort)
		assert.IsType(t, want, got, hostPort)
	}

	t.Setenv(envCompression, "gzip")
	got, err := compressionFor("127.0.0.1:7233")
	require.NoError(t, err)
	assert.IsType(t, &client.GrpcCompressionGzip{}, got, "the variable overrides loopback")
	t.Setenv(envCompression, "none")
	got, err = compressionFor("temporal.example.com:7233")
	require.NoError(t, err)
	assert.IsType(t, &client.GrpcCompressionNone{}, got)
	t.Setenv(envCompression, "zstd")
	_, err = compressionFor("127.0.0.1:7233")
	assert.ErrorContains(t, err, `STEWARD_TEMPORAL_COMPRESSION="zstd": want gzip or none`)
}
