//! One step of a tenant's sync: under the lease, resume the run from its checkpoint (or
//! start one), fetch the selected groups' users, apply them, then finish the run or
//! checkpoint it for the next step.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use item_store::{Condition, Item, ItemStore};

use crate::clock::rfc3339;
use crate::eaa::config::SyncTarget;
use crate::eaa::port::{EaaConnector, EaaDirectory};
use crate::eaa::sync::lease::LEASE_MARGIN;
use crate::eaa::sync::mapping::{Desired, from_attrs, to_attrs};
use crate::eaa::sync::run::{Run, Stop, eaa_failure};
use crate::eaa::sync::status::{Checkpoint, Phase, Progress, SyncCounts, SyncOutcome, SyncSummary, TargetRun};
use crate::error::{Error, Result};
use crate::service::Provisioning;
use crate::storage::ids::new_id;
use crate::storage::keys;
use crate::tenancy::ownership::Caller;

impl<S: ItemStore> Provisioning<S> {
    /// One step of a target's sync through `connector`, for at most about `budget`.
    /// Failures are reported in the answer rather than returned, so that one tenant's bad
    /// credentials do not stop the other tenants' syncs.
    pub async fn run_eaa_target(&self, target: &SyncTarget, connector: &dyn EaaConnector, budget: Duration) -> TargetRun {
        if budget.is_zero() {
            return TargetRun::Skipped;
        }
        let Some(reference) = &target.credentials_ref else { return TargetRun::Unconfigured };
        let eaa = match connector.connect(&target.tenant, reference).await {
            Ok(eaa) => eaa,
            Err(e) => return TargetRun::Error { error: e.to_string() },
        };
        match self.eaa_sync_step(&target.tenant, eaa.as_ref(), budget).await {
            Ok(Progress::Done(summary)) => TargetRun::Done { summary },
            Ok(Progress::Continue(checkpoint)) => TargetRun::Continue { checkpoint },
            Ok(Progress::Busy) => TargetRun::Busy,
            Err(e) => TargetRun::Error { error: e.detail() },
        }
    }

    /// One step of the tenant's EAA sync, for at most about `budget` (the Lambda passes
    /// its remaining time less a margin). `Continue` means: invoke again.
    pub async fn eaa_sync_step(&self, tenant: &str, eaa: &dyn EaaDirectory, budget: Duration) -> Result<Progress> {
        let Some(lease) = self.take_lease(tenant, budget + LEASE_MARGIN).await? else { return Ok(Progress::Busy) };
        let result = self.step_under_lease(tenant, eaa, budget).await;
        self.release_lease(tenant, lease).await;
        result
    }

    async fn step_under_lease(&self, tenant: &str, eaa: &dyn EaaDirectory, budget: Duration) -> Result<Progress> {
        let deadline = Instant::now() + budget;
        if self.eaa_deletion_pending(tenant).await? {
            return Err(Error::Retryable {
                throttled: false,
                retry_after: Duration::from_secs(60),
                detail: "the tenant's previous EAA integration is still being deleted (its users released or removed); \
                         the sync goes on when that has finished"
                    .into(),
            });
        }
        let (integration_id, selection) = self.eaa_selection(tenant).await?;
        let integration = self.integration(&Caller::admin(tenant), &integration_id).await?;
        let caller = Caller::integration(tenant, &integration_id, integration.settings).named(integration.name);
        let saved =
            self.store.get(&keys::eaa_sync(tenant, "RUN")).await?.map(|i| from_attrs::<Checkpoint>(&i, "sync checkpoint")).transpose()?;
        let resumed = saved.is_some();
        let checkpoint = saved.unwrap_or_else(|| Checkpoint {
            run: new_id(),
            started: rfc3339(self.clock.now()),
            phase: Phase::Fetch,
            selection,
            group_index: 0,
            offset: 0,
            counts: SyncCounts::default(),
            errors: Vec::new(),
            staged_chunks: 0,
            applied_through: None,
        });
        let stage_current = checkpoint.phase == Phase::Apply && checkpoint.staged_chunks > 0;
        let mut run = Run { desired: self.load_stage(tenant, &checkpoint).await?, checkpoint, deadline, stage_current };
        match self.run_phases(&caller, eaa, &mut run).await {
            Ok(()) => {
                let summary = self.finish(tenant, run, resumed).await?;
                Ok(Progress::Done(summary))
            }
            Err(stop) => {
                self.save_checkpoint(tenant, &mut run).await?;
                match stop {
                    Stop::OutOfTime => Ok(Progress::Continue(run.checkpoint)),
                    Stop::Failed(error) => {
                        let summary = SyncSummary {
                            run: run.checkpoint.run.clone(),
                            outcome: SyncOutcome::Failed,
                            started: run.checkpoint.started.clone(),
                            finished: rfc3339(self.clock.now()),
                            counts: run.checkpoint.counts,
                            errors: vec![error.detail()],
                        };
                        self.store.put(Item::new(keys::eaa_sync(tenant, "LAST"), to_attrs(&summary)), Condition::None).await?;
                        Err(error)
                    }
                }
            }
        }
    }

    async fn run_phases(&self, caller: &Caller, eaa: &dyn EaaDirectory, run: &mut Run) -> Result<(), Stop> {
        if run.checkpoint.phase == Phase::Fetch {
            self.fetch(eaa, run).await?;
            run.checkpoint.phase = Phase::Apply;
        }
        self.apply(caller, run).await
    }

    /// Every page of every selected group, from the checkpoint on, into `run.desired`.
    async fn fetch(&self, eaa: &dyn EaaDirectory, run: &mut Run) -> Result<(), Stop> {
        while let Some((directory, group)) = run.checkpoint.selection.get(run.checkpoint.group_index).cloned() {
            let page = eaa.group_users(&directory, &group.id, run.checkpoint.offset).await.map_err(eaa_failure)?;
            run.stage_current = false;
            for member in page.items {
                let entry = run
                    .desired
                    .entry(member.user.user_uuid_url.clone())
                    .or_insert_with(|| Desired { u: member.user.clone(), g: BTreeSet::new() });
                entry.u = member.user;
                entry.g.insert(group.id.clone());
            }
            match page.next {
                Some(next) => run.checkpoint.offset = next,
                None => {
                    run.checkpoint.group_index += 1;
                    run.checkpoint.offset = 0;
                }
            }
            // Checked after a page, not before: every step makes progress, even one
            // started with almost no budget left.
            if run.out_of_time() && run.checkpoint.group_index < run.checkpoint.selection.len() {
                return Err(Stop::OutOfTime);
            }
        }
        Ok(())
    }
}
