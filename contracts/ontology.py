"""The ONE ontology's type lists, exactly as the seed's `convex/schema.ts` declares them.

The seed's prose counts (66 entity, 25 connection, 55 event types) disagree with its
code (61, 31, 60); the code is authoritative. `tests/contracts/test_ontology.py` checks
these lists against the seed itself.
"""

from typing import Final, Literal, get_args

EntityType = Literal[
    # Core entities
    "creator", "ai_clone", "audience_member", "organization",
    # Business function agents
    "strategy_agent", "research_agent", "marketing_agent", "sales_agent", "service_agent",
    "design_agent", "engineering_agent", "finance_agent", "legal_agent", "intelligence_agent",
    # Content types
    "blog_post", "video", "podcast", "social_post", "email", "course", "lesson",
    # Products
    "digital_product", "membership", "consultation", "nft",
    # Community
    "community", "conversation", "message",
    # Token
    "token", "token_contract",
    # Knowledge
    "knowledge_item", "embedding",
    # Platform
    "website", "landing_page", "template", "livestream", "recording", "media_asset",
    # Business
    "payment", "subscription", "invoice", "metric", "insight", "prediction", "report",
    # Authentication & session
    "session", "oauth_account", "verification_token", "password_reset_token", "ui_preferences",
    # Marketing
    "notification", "email_campaign", "announcement", "referral", "campaign", "lead",
    # External integrations
    "external_agent", "external_workflow", "external_connection",
    # Protocol entities
    "mandate", "product",
]  # fmt: skip

EntityStatus = Literal["active", "inactive", "draft", "published", "archived"]

ConnectionType = Literal[
    # Ownership
    "owns", "created_by",
    # AI relationships
    "clone_of", "trained_on", "powers",
    # Content relationships
    "authored", "generated_by", "published_to", "part_of", "references",
    # Community relationships
    "member_of", "following", "moderates", "participated_in",
    # Business relationships
    "manages", "reports_to", "collaborates_with",
    # Token relationships
    "holds_tokens", "staked_in", "earned_from",
    # Product relationships
    "purchased", "enrolled_in", "completed", "teaching",
    # Consolidated: the variant travels in metadata
    "transacted", "notified", "referred", "communicated", "delegated", "approved", "fulfilled",
]  # fmt: skip

EventType = Literal[
    # Entity lifecycle
    "entity_created", "entity_updated", "entity_deleted", "entity_archived",
    # User
    "user_registered", "user_verified", "user_login", "user_logout", "profile_updated",
    # Authentication
    "password_reset_requested", "password_reset_completed", "email_verification_sent",
    "email_verified", "two_factor_enabled", "two_factor_disabled",
    # Organization
    "organization_created", "organization_updated", "user_invited_to_org", "user_joined_org",
    "user_removed_from_org",
    # Dashboard & UI
    "dashboard_viewed", "settings_updated", "theme_changed", "preferences_updated",
    # AI / clone
    "clone_created", "clone_updated", "voice_cloned", "appearance_cloned",
    # Agent
    "agent_created", "agent_executed", "agent_completed", "agent_failed",
    # Token
    "token_created", "token_minted", "token_burned", "tokens_purchased", "tokens_staked",
    "tokens_unstaked", "tokens_transferred",
    # Course
    "course_created", "course_enrolled", "lesson_completed", "course_completed",
    "certificate_earned",
    # Analytics
    "metric_calculated", "insight_generated", "prediction_made", "optimization_applied",
    "report_generated",
    # Consolidated: the variant travels in metadata
    "content_event", "payment_event", "subscription_event", "commerce_event",
    "livestream_event", "notification_event", "referral_event", "communication_event",
    "task_event", "mandate_event", "price_event",
]  # fmt: skip

ENTITY_TYPES: Final[tuple[str, ...]] = get_args(EntityType)
ENTITY_STATUSES: Final[tuple[str, ...]] = get_args(EntityStatus)
CONNECTION_TYPES: Final[tuple[str, ...]] = get_args(ConnectionType)
EVENT_TYPES: Final[tuple[str, ...]] = get_args(EventType)

LifecycleEventType = Literal[
    "entity_created", "entity_updated", "entity_deleted", "entity_archived"
]
# Recorded by the service for each entity command (the audit trail); never published.
LIFECYCLE_EVENT_TYPES: Final[tuple[str, ...]] = get_args(LifecycleEventType)
PUBLISHABLE_EVENT_TYPES: Final[tuple[str, ...]] = tuple(
    event_type for event_type in EVENT_TYPES if event_type not in LIFECYCLE_EVENT_TYPES
)
"""The event types an `events` subject accepts: all but the lifecycle ones."""

Collection = Literal["entities", "connections", "events", "tags"]
COLLECTIONS: Final[tuple[str, ...]] = get_args(Collection)
