# Reference values from R's survival for tests/test_r_reference.py (which runs without R).
#
#   Rscript tests/reference/survival_reference.R [output folder, default tests/reference]
#
# Writes the data every value comes from (so that Python reads exactly what R fitted) and
# the values: coxph coefficients with model-based, robust and cluster() SEs (coxph.csv),
# cox.zph per term and global (zph.csv), survfit log(-log) intervals (km.csv) and survival
# at fixed times (km_times.csv). Data: R's lung and heart, a cohort of our own with many
# tied deaths, case weights, clusters and late entry (tied_cohort.csv), a tiny curve that
# starts with censorings and ends in a death (km_small.csv), and the shipped synthetic
# cohort's analysis data (shipped_cohort.csv, an input: written by the Python snippet in
# tests/test_r_reference.py's docstring, never by this script).
# Every fit reads its data back from the CSV it was written to. Numbers are written with
# 17 significant digits (exact doubles).
suppressPackageStartupMessages(library(survival))

args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args)) args[1] else file.path("tests", "reference")
script_args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", grep("^--file=", script_args, value = TRUE))))
dir.create(out, showWarnings = FALSE, recursive = TRUE)

write_exact <- function(frame, name) {
  for (column in names(frame)) {
    if (is.double(frame[[column]])) frame[[column]] <- sprintf("%.17g", frame[[column]])
  }
  frame[is.na(frame) | frame == "NA"] <- ""
  write.csv(frame, file.path(out, name), row.names = FALSE, quote = FALSE)
}
round_trip <- function(frame, name) {
  write_exact(frame, name)
  read.csv(file.path(out, name))
}

# --- data ---------------------------------------------------------------------------------
set.seed(20261201)
lung_data <- with(lung, data.frame(inst, time, death = status - 1, age, sex, ph.ecog))
lung_data$weight <- round(runif(nrow(lung_data), 0.3, 3), 3)
lung_data <- round_trip(lung_data, "lung.csv")

heart_data <- with(heart, data.frame(id, start, stop, event, age, year, surgery,
                                     transplant = as.integer(as.character(transplant))))
heart_data$weight <- round(runif(nrow(heart_data), 0.3, 3), 3)
heart_data <- round_trip(heart_data, "heart.csv")

n <- 150
tied <- data.frame(id = seq_len(n), cluster = sample(rep(seq_len(60), length.out = n)),
                   site = sample(c("A", "B", "C"), n, replace = TRUE),
                   x1 = rbinom(n, 1, 0.5), x2 = round(rnorm(n), 2),
                   group = sample(c("IM", "IM+HR", "IM+RFA/TACE"), n, replace = TRUE, prob = c(0.5, 0.3, 0.2)))
hazard <- exp(0.5 * tied$x1 - 0.3 * tied$x2 - 0.7 * (tied$group == "IM+HR")) / 20
event_time <- ceiling(rexp(n, hazard))  # whole months: many tied deaths
censor_time <- ceiling(runif(n, 1, 60))
tied$time <- pmin(event_time, censor_time)
tied$death <- as.integer(event_time <= censor_time)
tied$time[1:3] <- 0.5  # censored before the first death: the curves start at 1
tied$death[1:3] <- 0
tied$entry <- floor(runif(n) * tied$time) * (runif(n) < 0.4)  # 40% enter late, entry < time
tied$weight <- round(runif(n, 0.3, 3), 3)
tied$hr <- as.integer(tied$group == "IM+HR")
tied$rfa <- as.integer(tied$group == "IM+RFA/TACE")
tied <- round_trip(tied, "tied_cohort.csv")

km_small <- round_trip(data.frame(time = c(1, 1, 2, 3, 3, 4, 5, 6), death = c(0, 0, 1, 1, 0, 1, 0, 1)), "km_small.csv")

shipped <- read.csv(file.path(here, "shipped_cohort.csv"))
shipped$hr <- as.integer(shipped$group == "IM+HR")
shipped$rfa <- as.integer(shipped$group == "IM+RFA/TACE")

# --- Cox models ---------------------------------------------------------------------------
models <- list(
  list("lung", "age_sex_ecog", Surv(time, death) ~ age + sex + ph.ecog, "none"),
  list("lung", "sex", Surv(time, death) ~ sex, "none"),
  list("lung", "age_sex_ecog_inst", Surv(time, death) ~ age + sex + ph.ecog + cluster(inst), "inst"),
  list("heart", "counting_process", Surv(start, stop, event) ~ age + year + surgery + transplant + cluster(id), "id"),
  list("tied", "right_censored", Surv(time, death) ~ x1 + x2 + hr + rfa, "none"),
  list("tied", "right_censored_cluster", Surv(time, death) ~ x1 + x2 + hr + rfa + cluster(cluster), "cluster"),
  list("tied", "late_entry_cluster", Surv(entry, time, death) ~ x1 + x2 + hr + rfa + cluster(cluster), "cluster"),
  list("shipped", "univariable_group", Surv(os_months, death) ~ hr + rfa, "none"),
  list("shipped", "univariable_age_over_cutoff", Surv(os_months, death) ~ age_over_cutoff, "none"),
  list("shipped", "univariable_male", Surv(os_months, death) ~ male, "none"),
  list("shipped", "univariable_extrahepatic_disease", Surv(os_months, death) ~ extrahepatic_disease, "none"),
  list("shipped", "univariable_lm_count_over_cutoff", Surv(os_months, death) ~ lm_count_over_cutoff, "none"),
  list("shipped", "univariable_lm_bilobar", Surv(os_months, death) ~ lm_bilobar, "none"),
  list("shipped", "multivariable", Surv(os_months, death) ~ hr + rfa + age_over_cutoff + male +
         extrahepatic_disease + lm_count_over_cutoff + lm_bilobar, "none")
)
datasets <- list(lung = lung_data, heart = heart_data, tied = tied, shipped = shipped)

# cox.zph per term and global (terms = TRUE, global = TRUE: the defaults) on each time scale;
# "km" is the default one
zph_table <- function(fit, dataset, model, weighted, strata) {
  do.call(rbind, lapply(c("km", "rank", "identity", "log"), function(transform) {
    zph <- cox.zph(fit, transform = transform)
    data.frame(dataset = dataset, model = model, weighted = weighted, strata = strata, transform = transform,
               term = rownames(zph$table), chisq = zph$table[, "chisq"], df = zph$table[, "df"], p = zph$table[, "p"])
  }))
}

cox_rows <- list()
zph_rows <- list()
for (model in models) {
  for (weighted in c(FALSE, TRUE)) {
    if (weighted && model[[1]] == "shipped") next
    data <- datasets[[model[[1]]]]
    # robust = TRUE: without cluster() each row is its own cluster
    fit <- if (weighted) coxph(model[[3]], data = data, weights = weight, robust = TRUE, ties = "efron")
           else coxph(model[[3]], data = data, robust = TRUE, ties = "efron")
    cox_rows[[length(cox_rows) + 1]] <- data.frame(
      dataset = model[[1]], model = model[[2]], weighted = weighted, cluster = model[[4]],
      term = names(coef(fit)), coef = unname(coef(fit)), se = sqrt(diag(fit$naive.var)),
      robust_se = sqrt(diag(fit$var)), n = fit$n, events = fit$nevent, loglik = fit$loglik[2])
    if (model[[1]] != "heart" && model[[2]] != "late_entry_cluster") {
      zph_rows[[length(zph_rows) + 1]] <- zph_table(fit, model[[1]], model[[2]], weighted, "none")
    }
  }
}
# stratified: a baseline hazard per site, one KM time scale for all (as cox.zph)
for (weighted in c(FALSE, TRUE)) {
  formula <- Surv(time, death) ~ x1 + x2 + hr + rfa + strata(site)
  fit <- if (weighted) coxph(formula, data = tied, weights = weight) else coxph(formula, data = tied)
  cox_rows[[length(cox_rows) + 1]] <- data.frame(
    dataset = "tied", model = "stratified_site", weighted = weighted, cluster = "none",
    term = names(coef(fit)), coef = unname(coef(fit)), se = sqrt(diag(fit$var)), robust_se = NA,
    n = fit$n, events = fit$nevent, loglik = fit$loglik[2])
  zph_rows[[length(zph_rows) + 1]] <- zph_table(fit, "tied", "stratified_site", weighted, "site")
}
write_exact(do.call(rbind, cox_rows), "coxph.csv")
write_exact(do.call(rbind, zph_rows), "zph.csv")

# --- Kaplan-Meier -------------------------------------------------------------------------
curves <- list(
  list("lung", survfit(Surv(time, death) ~ sex, data = lung_data, conf.type = "log-log"), c(100, 365, 730)),
  list("tied", survfit(Surv(time, death) ~ group, data = tied, conf.type = "log-log"), c(0.5, 1, 12, 36)),
  list("km_small", survfit(Surv(time, death) ~ 1, data = km_small, conf.type = "log-log"), c(0.5, 1, 2, 5, 6)),
  list("shipped", survfit(Surv(os_months, death) ~ group, data = shipped, conf.type = "log-log"), c(12, 36, 60, 120))
)
km_rows <- list()
at_rows <- list()
for (curve in curves) {
  fit <- curve[[2]]
  strata <- if (is.null(fit$strata)) rep("all", length(fit$time))
            else sub("^[^=]*=", "", rep(names(fit$strata), fit$strata))
  km_rows[[length(km_rows) + 1]] <- data.frame(
    dataset = curve[[1]], strata = strata, time = fit$time, n_risk = fit$n.risk, n_event = fit$n.event,
    n_censor = fit$n.censor, surv = fit$surv, lower = fit$lower, upper = fit$upper)
  at <- summary(fit, times = curve[[3]], extend = FALSE)  # no row beyond a curve's follow-up
  at_strata <- if (is.null(at$strata)) rep("all", length(at$time)) else sub("^[^=]*=", "", as.character(at$strata))
  at_rows[[length(at_rows) + 1]] <- data.frame(
    dataset = curve[[1]], strata = at_strata, time = at$time, surv = at$surv, lower = at$lower, upper = at$upper)
}
write_exact(do.call(rbind, km_rows), "km.csv")
write_exact(do.call(rbind, at_rows), "km_times.csv")
write_exact(data.frame(r = R.version.string, survival = as.character(packageVersion("survival"))), "versions.csv")
