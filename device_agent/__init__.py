"""The home gateway agent: reads sensors, publishes the contract, queues while offline."""
