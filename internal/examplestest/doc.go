// Package examplestest checks that every program under examples/ builds when
// copied alone into a module of its own, as a user would copy it. It has
// only tests.
package examplestest
