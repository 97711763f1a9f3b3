package db

// MigrationCount is how many migrations the schema has, for the tests.
var MigrationCount = len(migrations.Sorted())
