# The Pub/Sub topology (deploy/pubsub/topology.json), each property read as io/pubsub/provision.ts reads it:
# topic retentionSeconds -> message retention (unset: not kept); a subscription's ackDeadlineSeconds (default 60),
# retentionSeconds (default 7 days), messageOrdering (default false), filter (default none), retryPolicy (unset: none,
# immediate redelivery) and deadLetter (a topic of the same topology, maxDeliveryAttempts).
#
# The topology's tenants are written out first, as io/pubsub/tenant-topology.ts's expandTenants does: a topic with
# tenantWorkers gains, per tenant T of `tenants` and of the `retiredTenantLists`, the subscription TOPIC-T-worker (its
# tenantWorkers properties but maxDeliveryAttempts, the filter attributes.tenant_id = "T", dead letters to
# TOPIC-T-dlq), and each TOPIC-T-dlq follows the declared topics with its subscription TOPIC-T-dlq-inspect. Such a
# topic also gains a catch-all per tenant list (the current one, then each retired one, each list once):
# TOPIC-tenant-catch-all-HASH, HASH the first 8 hex digits of the SHA-256 of its filter (the filter that selects what
# none of the list's filters does), with the same properties, dead letters to TOPIC-tenant-catch-all-dead-letter (kept
# by TOPIC-tenant-catch-all-dead-letter-inspect). Named after its filter, which the provider cannot change in place (a
# change would replace the subscription, deleting its unacknowledged messages): a new tenant list makes a new
# catch-all beside the old one, kept while the old list is in retiredTenantLists. A catch-all filter over Pub/Sub's
# 256 bytes is left out and named in pubsub_problems.
#
# var.tenant_mode says who reads such a topic (tenant-topology.ts's TenantMode), so that no input subscription is made
# that nothing reads: shared, the Dataflow job alone on the topic's tenantWorkers.sharedSubscription, and the current
# tenants get no subscription; per_tenant, the tenants' workers and catch-all, not the sharedSubscription (and no
# Dataflow job: their readers run outside Dataflow); both, all of them. A retired list's subscriptions stay in every
# mode.

locals {
  declared_topology = jsondecode(file(var.topology_file))
  prefix            = var.pubsub_prefix != null ? var.pubsub_prefix : "tidemark-${var.environment}-"

  # schemas/tenant.ts's TENANT_ID. Only valid tenants, each once, are written out (the others are in pubsub_problems).
  tenant_pattern       = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
  listed_tenants       = try(local.declared_topology.tenants, [])
  tenants              = [for t in distinct(local.listed_tenants) : t if can(regex(local.tenant_pattern, t))]
  listed_retired       = try(local.declared_topology.retiredTenantLists, [])
  retired_lists        = [for l in local.listed_retired : [for t in distinct(l) : t if can(regex(local.tenant_pattern, t))]]
  tenant_worker_topics = [for t in local.declared_topology.topics : t if can(t.tenantWorkers)]

  # The tenant lists with a catch-all (tenant-topology.ts's tenantLists): the current one, then the retired ones; all
  # are checked, and those of the mode get subscriptions (in shared mode, not the current one).
  tenant_lists = distinct([for l in concat([local.tenants], local.retired_lists) : l if length(l) > 0])
  mode_lists   = [for l in concat(var.tenant_mode == "shared" ? [] : [local.tenants], local.retired_lists) : l if length(l) > 0]
  # schemas/tenant.ts's catchAllFilter per list, and tenant-topology.ts's PUBSUB_FILTER_MAX_BYTES (tenant ids are
  # ASCII, so length() counts bytes).
  filter_max_bytes = 256
  filter_of = {
    for l in local.tenant_lists : join(",", l) => format(
      "NOT attributes:tenant_id OR NOT (%s)",
      join(" OR ", [for tenant in l : "attributes.tenant_id = \"${tenant}\""]),
    )
  }
  list_filters      = [for l in local.tenant_lists : local.filter_of[join(",", l)]]
  catch_all_filters = distinct([for l in local.mode_lists : local.filter_of[join(",", l)] if length(local.filter_of[join(",", l)]) <= local.filter_max_bytes])
  # The tenants with a worker: those of every list of the mode.
  worker_tenants = distinct(flatten(local.mode_lists))
  # Per topic with tenantWorkers, the shared job's subscription, which per_tenant leaves out.
  shared_subscriptions = { for t in local.tenant_worker_topics : t.name => try(t.tenantWorkers.sharedSubscription, null) }

  tenant_workers = {
    for t in local.tenant_worker_topics : t.name => [
      for tenant in local.worker_tenants : merge(
        { for k, v in t.tenantWorkers : k => v if !contains(["maxDeliveryAttempts", "sharedSubscription"], k) },
        {
          name       = "${t.name}-${tenant}-worker"
          filter     = "attributes.tenant_id = \"${tenant}\""
          deadLetter = { topic = "${t.name}-${tenant}-dlq", maxDeliveryAttempts = t.tenantWorkers.maxDeliveryAttempts }
        },
      )
    ]
  }
  tenant_catch_alls = {
    for t in local.tenant_worker_topics : t.name => [
      for f in local.catch_all_filters : merge(
        { for k, v in t.tenantWorkers : k => v if !contains(["maxDeliveryAttempts", "sharedSubscription"], k) },
        {
          name   = "${t.name}-tenant-catch-all-${substr(sha256(f), 0, 8)}"
          filter = f
          deadLetter = {
            topic               = "${t.name}-tenant-catch-all-dead-letter"
            maxDeliveryAttempts = t.tenantWorkers.maxDeliveryAttempts
          }
        },
      )
    ]
  }
  # The subscriptions only a tenant's worker (--tenant) or a catch-all's reader should read: neither runs on
  # Dataflow yet, so the job this environment submits may not take one as its input (pubsub_problems).
  # (Whatever the mode: in shared mode the current tenants' are not made, and are named so rather than as missing.)
  tenant_inputs = merge(
    {
      for pair in setproduct([for t in local.tenant_worker_topics : t.name], distinct(flatten(local.tenant_lists))) :
      "${pair[0]}-${pair[1]}-worker" => "tenant ${pair[1]}'s worker subscription (read with --tenant=${pair[1]}, not available with --runner=dataflow yet)"
    },
    {
      for pair in setproduct([for t in local.tenant_worker_topics : t.name], local.list_filters) :
      "${pair[0]}-tenant-catch-all-${substr(sha256(pair[1]), 0, 8)}" => "a tenants' catch-all (its reader dead-letters every message, which the Dataflow job does not)"
    },
  )
  # The input subscriptions something reads in this mode (topology names): the Dataflow job's, unless per_tenant, and
  # every tenant's worker and catch-all made. The worker service account may read them; the alerts watch them.
  reader_subscriptions = concat(
    var.tenant_mode == "per_tenant" ? [] : [var.input_subscription],
    flatten([for t in local.tenant_worker_topics : [for s in concat(local.tenant_workers[t.name], local.tenant_catch_alls[t.name]) : s.name]]),
  )
  tenant_dead_letter_topics = flatten([
    for t in local.tenant_worker_topics : concat(
      [
        for tenant in local.worker_tenants : {
          name          = "${t.name}-${tenant}-dlq"
          subscriptions = [{ name = "${t.name}-${tenant}-dlq-inspect" }]
        }
      ],
      length(local.catch_all_filters) > 0 ? [{
        name          = "${t.name}-tenant-catch-all-dead-letter"
        subscriptions = [{ name = "${t.name}-tenant-catch-all-dead-letter-inspect" }]
      }] : [],
    )
  ])
  topology = {
    topics = concat(
      [
        for t in local.declared_topology.topics : merge(t, {
          subscriptions = concat(
            [
              for s in try(t.subscriptions, []) : s
              if !(var.tenant_mode == "per_tenant" && s.name == lookup(local.shared_subscriptions, t.name, null))
            ],
            lookup(local.tenant_workers, t.name, []),
            lookup(local.tenant_catch_alls, t.name, []),
          )
        })
      ],
      local.tenant_dead_letter_topics,
    )
  }

  # provision.ts's defaults (subscriptionMetadata): the provider's differ (a 10 s ack deadline).
  default_ack_deadline_seconds = 60
  default_retention_seconds    = 7 * 24 * 3600

  # Keyed by the names in topology.json (without the prefix); `name` is the full resource name.
  # A name declared twice is grouped (the first one kept) and named in pubsub_problems.
  topics_by_name = { for t in local.topology.topics : t.name => t... }
  topics = {
    for name, ts in local.topics_by_name : name => {
      name                       = "${local.prefix}${name}"
      message_retention_duration = can(ts[0].retentionSeconds) ? "${ts[0].retentionSeconds}s" : null
    }
  }

  declared_subscriptions = flatten([
    for t in local.topology.topics : [for s in try(t.subscriptions, []) : { topic = t.name, spec = s }]
  ])

  subscriptions_by_name = { for d in local.declared_subscriptions : d.spec.name => d... }
  subscriptions = {
    for name, ds in local.subscriptions_by_name : name => {
      name                       = "${local.prefix}${name}"
      topic                      = ds[0].topic
      ack_deadline_seconds       = try(ds[0].spec.ackDeadlineSeconds, local.default_ack_deadline_seconds)
      message_retention_duration = "${try(ds[0].spec.retentionSeconds, local.default_retention_seconds)}s"
      enable_message_ordering    = try(ds[0].spec.messageOrdering, false)
      filter                     = try(ds[0].spec.filter, null)
      retry_policy = can(ds[0].spec.retryPolicy) ? {
        minimum_backoff = "${ds[0].spec.retryPolicy.minBackoffSeconds}s"
        maximum_backoff = "${ds[0].spec.retryPolicy.maxBackoffSeconds}s"
      } : null
      dead_letter_policy = can(ds[0].spec.deadLetter) ? {
        topic                 = ds[0].spec.deadLetter.topic
        max_delivery_attempts = ds[0].spec.deadLetter.maxDeliveryAttempts
      } : null
    }
  }

  # The topics some subscription dead-letters to: Pub/Sub's service agent publishes to them.
  dead_letter_topics = toset([for s in local.subscriptions : s.dead_letter_policy.topic if s.dead_letter_policy != null])

  # What provision.ts's validate() refuses, refused here too, naming the entry.
  name_pattern = "^[A-Za-z][A-Za-z0-9_.~+%-]{2,254}$"
  pubsub_problems = concat(
    [
      for i, t in local.listed_tenants : "tenant ${jsonencode(t)}: must be 1 to 63 letters, digits, '_', '-' or '.', starting with a letter or a digit, got ${jsonencode(t)}"
      if !can(regex(local.tenant_pattern, t))
    ],
    [for i, t in local.listed_tenants : "tenant ${jsonencode(t)}: listed twice" if index(local.listed_tenants, t) < i],
    flatten([
      for i, l in local.listed_retired : concat(
        length(l) > 0 ? [] : ["retiredTenantLists[${i}]: no tenants (a retired list is the tenants of a catch-all made)"],
        [
          for t in l : "retiredTenantLists[${i}]: tenant ${jsonencode(t)}: must be 1 to 63 letters, digits, '_', '-' or '.', starting with a letter or a digit, got ${jsonencode(t)}"
          if !can(regex(local.tenant_pattern, t))
        ],
        [for j, t in l : "retiredTenantLists[${i}]: tenant ${jsonencode(t)}: listed twice" if index(l, t) < j],
      )
    ]),
    # Named after the first topic with tenantWorkers, as tenant-topology.ts's tenantLists does (the current list,
    # then each retired one).
    [
      for i, l in concat([local.tenants], local.retired_lists) : "${i == 0 ? "" : "retiredTenantLists[${i - 1}]: "}subscription \"${local.tenant_worker_topics[0].name}-tenant-catch-all-${substr(sha256(local.filter_of[join(",", l)]), 0, 8)}\": the filter that selects what none of the ${length(l)} tenants' workers takes is ${length(local.filter_of[join(",", l)])} bytes, over Pub/Sub's limit of ${local.filter_max_bytes} (list fewer tenants, or shorter tenant ids)"
      if length(l) > 0 && length(local.tenant_worker_topics) > 0 && try(length(local.filter_of[join(",", l)]) > local.filter_max_bytes, false)
    ],
    [
      for t in local.topics : "topic \"${t.name}\": not a valid name"
      if !can(regex(local.name_pattern, t.name)) || startswith(t.name, "goog")
    ],
    [for name, ts in local.topics_by_name : "topic \"${local.prefix}${name}\": declared twice" if length(ts) > 1],
    [for name, ds in local.subscriptions_by_name : "subscription \"${local.prefix}${name}\": declared twice" if length(ds) > 1],
    flatten([
      for d in local.declared_subscriptions : concat(
        can(regex(local.name_pattern, "${local.prefix}${d.spec.name}")) ? [] : [
          "subscription \"${local.prefix}${d.spec.name}\": not a valid name"
        ],
        !can(d.spec.ackDeadlineSeconds) || try(
          d.spec.ackDeadlineSeconds >= 10 && d.spec.ackDeadlineSeconds <= 600 && floor(d.spec.ackDeadlineSeconds) == d.spec.ackDeadlineSeconds,
          false,
          ) ? [] : [
          "subscription \"${local.prefix}${d.spec.name}\": ackDeadlineSeconds must be 10 to 600, got ${jsonencode(d.spec.ackDeadlineSeconds)}"
        ],
        !can(d.spec.deadLetter) || try(contains(keys(local.topics), d.spec.deadLetter.topic), false) ? [] : [
          "subscription \"${local.prefix}${d.spec.name}\": dead-letter topic ${jsonencode(try(d.spec.deadLetter.topic, null))} is not declared"
        ],
        !can(d.spec.deadLetter) || try(
          d.spec.deadLetter.maxDeliveryAttempts >= 5 && d.spec.deadLetter.maxDeliveryAttempts <= 100 &&
          floor(d.spec.deadLetter.maxDeliveryAttempts) == d.spec.deadLetter.maxDeliveryAttempts,
          false,
          ) ? [] : [
          "subscription \"${local.prefix}${d.spec.name}\": maxDeliveryAttempts must be 5 to 100, got ${jsonencode(try(d.spec.deadLetter.maxDeliveryAttempts, null))}"
        ],
        !can(d.spec.retryPolicy) || try(
          d.spec.retryPolicy.minBackoffSeconds >= 0 && d.spec.retryPolicy.maxBackoffSeconds <= 600 &&
          d.spec.retryPolicy.minBackoffSeconds <= d.spec.retryPolicy.maxBackoffSeconds,
          false,
          ) ? [] : [
          "subscription \"${local.prefix}${d.spec.name}\": retryPolicy needs 0 <= minBackoffSeconds <= maxBackoffSeconds <= 600"
        ],
      )
    ]),
    [
      for name, shared in local.shared_subscriptions : "topic ${jsonencode(name)}: tenantWorkers.sharedSubscription ${jsonencode(shared)} is not one of its subscriptions"
      if shared != null && !contains([for s in try([for t in local.declared_topology.topics : t if t.name == name][0].subscriptions, []) : s.name], shared)
    ],
    # The Dataflow job's input (none in per_tenant mode: no job).
    [
      for role, name in { input_subscription = var.input_subscription } : "${role}: no subscription \"${name}\" in the topology"
      if var.tenant_mode != "per_tenant" && !contains(keys(local.subscriptions), name) && !contains(keys(local.tenant_inputs), name)
    ],
    [
      for role, name in { input_subscription = var.input_subscription } : "${role}: \"${name}\" is ${local.tenant_inputs[name]}: run that reader outside Dataflow"
      if var.tenant_mode != "per_tenant" && contains(keys(local.tenant_inputs), name)
    ],
    [
      for role, name in { insights_topic = var.insights_topic, dead_letter_topic = var.dead_letter_topic } :
      "${role}: no topic \"${name}\" in the topology"
      if name != null && !contains(keys(local.topics), coalesce(name, "-"))
    ],
  )
}
