// Package image owns the docker-compatible image commands of the berth
// CLI: pull, push, images / image ls, image inspect, tag, rmi / image rm,
// history, save, load, import, image prune, login and logout, with
// docker's flags, tables and progress output. Registry credentials live in
// a docker-compatible config.json ($DOCKER_CONFIG or ~/.docker), through
// its credential helpers when configured. It reaches the daemon only
// through internal/client.
package image
