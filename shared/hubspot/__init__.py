"""HubSpot: webhook signatures (v3), webhook events, and the CRM v3 objects API."""
