// The engine's services (dispatcher, reactions) arrive with the pathways and dispatch work.
