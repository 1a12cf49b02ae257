// Package events owns the daemon's event bus: producers publish
// events.Message values (the Engine API's own type), the bus keeps the most
// recent ones in a ring so that `GET /events?since=` can replay them, and
// subscribers receive live events that match their Filter.
//
// It knows nothing of containers or images beyond the attributes a producer
// puts on a message; the engine, the image service and the daemon itself
// publish, and the API server's /events handler subscribes.
package events
