# The primary analysis of NCT06038552 in plain R (data.table + survival), for the side-by-side
# benchmark (benchmarks/side_by_side.py): the same four raw tables of every site, the same
# quarantine of the generator's malformed records, the same eligibility rules (config defaults),
# groups, Kaplan-Meier, log-rank and the multivariable Cox model stratified by site.
#
# Usage: Rscript benchmarks/r_primary_analysis.R MANIFEST.tsv OUT_DIR
#   MANIFEST.tsv: columns site, table, path (CSV files); OUT_DIR gets cox.csv and counts.csv.
# It mirrors the shipped config (config/config.yaml); it is a yardstick, not a second pipeline:
# of the data-quality rules it applies only those the synthetic generator's defects exercise
# (sex code, death before LM diagnosis, non-numeric lm_count).
suppressPackageStartupMessages({
  library(data.table)
  library(survival)
})

args <- commandArgs(trailingOnly = TRUE)
manifest <- fread(args[1])
out_dir <- args[2]
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

read_table <- function(name) {
  rows <- manifest[table == name]
  rbindlist(lapply(seq_len(nrow(rows)), function(i) {
    dt <- fread(rows$path[i], colClasses = list(character = "patient_id"), na.strings = "")
    dt[, site := rows$site[i]]
  }), use.names = TRUE, fill = TRUE)
}
as_date <- function(x) as.IDate(x, format = "%Y-%m-%d")

patients <- read_table("patients")
lm <- read_table("liver_metastases")
treatments <- read_table("treatments")
follow_up <- read_table("follow_up")
for (col in c("birth_date")) set(patients, j = col, value = as_date(patients[[col]]))
lm[, lm_diagnosis_date := as_date(lm_diagnosis_date)]
treatments[, start_date := as_date(start_date)]
follow_up[, `:=`(last_contact_date = as_date(last_contact_date), death_date = as_date(death_date))]
lm[, lm_count := suppressWarnings(as.numeric(as.character(lm_count)))]

key_cols <- c("site", "patient_id")
base <- merge(patients, lm, by = key_cols)
base <- merge(base, follow_up, by = key_cols)
raw_patients <- nrow(patients)

# quarantine: the generator's malformed records
bad_count <- merge(read_table("liver_metastases")[, .(site, patient_id, raw = as.character(lm_count))],
                   lm[, .(site, patient_id, lm_count)], by = key_cols)
bad_count <- bad_count[!is.na(raw) & raw != "" & is.na(lm_count), .(site, patient_id)]
quarantined <- base[!(sex %chin% c("M", "F")) | (!is.na(death_date) & death_date < lm_diagnosis_date),
                    .(site, patient_id)]
quarantined <- unique(rbind(quarantined, bad_count))
base <- base[!quarantined, on = key_cols]

# eligibility (config/config.yaml defaults)
imatinib <- unique(treatments[treatment == "imatinib", .(site, patient_id)])
tki <- c("imatinib", "sunitinib", "regorafenib", "ripretinib", "avapritinib")
later <- merge(treatments[treatment %chin% tki & !is.na(line) & line >= 2, .(site, patient_id, start_date)],
               base[, .(site, patient_id, lm_diagnosis_date)], by = key_cols)
later <- unique(later[start_date <= lm_diagnosis_date, .(site, patient_id)])
lab_ok <- function(x, low = -Inf, high = Inf) is.na(x) | (x >= low & x <= high)
eligible <- base[
  toupper(trimws(primary_pathology)) == "GIST" &
    lm_evidence %chin% c("biopsy", "imaging") &
    (is.na(ecog) | ecog <= 1) &
    lab_ok(total_bilirubin_umol_l, high = 31.5) & lab_ok(alt_u_l, high = 200) &
    lab_ok(creatinine_umol_l, high = 159) & lab_ok(neutrophils_1e9_l, low = 1.5) &
    lab_ok(platelets_1e9_l, low = 75) & lab_ok(hemoglobin_g_l, low = 80) &
    other_malignancy != "yes" &
    (vital_status == "dead" | last_contact_date > lm_diagnosis_date)]
eligible <- eligible[imatinib, on = key_cols, nomatch = NULL][!later, on = key_cols]

# groups: first liver procedure on or after LM diagnosis, hepatic resection first
procedures <- merge(treatments[treatment %chin% c("hepatic_resection", "rfa", "tace"),
                               .(site, patient_id, treatment, start_date)],
                    eligible[, .(site, patient_id, lm_diagnosis_date)], by = key_cols)
procedures <- procedures[start_date >= lm_diagnosis_date]
resected <- unique(procedures[treatment == "hepatic_resection", .(site, patient_id)])
ablated <- unique(procedures[treatment %chin% c("rfa", "tace"), .(site, patient_id)])
eligible[, group := "IM"]
eligible[ablated, group := "IM+RFA/TACE", on = key_cols]
eligible[resected, group := "IM+HR", on = key_cols]
eligible[, group := factor(group, levels = c("IM", "IM+HR", "IM+RFA/TACE"))]

# overall survival, administratively censored at 200 months
eligible[, end := fifelse(vital_status == "dead", death_date, last_contact_date)]
eligible[, months := as.numeric(end - lm_diagnosis_date) / 30.4375]
eligible[, death := as.integer(vital_status == "dead" & months <= 200)]
eligible[, months := pmin(months, 200)]
eligible[, `:=`(
  age_over_cutoff = as.numeric(as.numeric(lm_diagnosis_date - birth_date) / 365.25 > 60),
  male = as.numeric(sex == "M"),
  extrahepatic_disease = fifelse(is.na(extrahepatic_disease), NA_real_, as.numeric(extrahepatic_disease == "yes")),
  lm_count_over_cutoff = as.numeric(lm_count > 3),
  lm_bilobar = fifelse(is.na(lm_bilobar), NA_real_, as.numeric(lm_bilobar == "yes"))
)]

km <- survfit(Surv(months, death) ~ group, data = eligible)
logrank <- survdiff(Surv(months, death) ~ group, data = eligible)
strata_term <- if (uniqueN(eligible$site) > 1) " + strata(site)" else ""
cox <- coxph(as.formula(paste("Surv(months, death) ~ group + age_over_cutoff + male + extrahepatic_disease",
                              "+ lm_count_over_cutoff + lm_bilobar", strata_term)),
             data = eligible, ties = "efron", control = coxph.control(eps = 1e-10, iter.max = 50))

terms <- sub("^groupIM\\+HR$", "IM+HR vs IM", sub("^groupIM\\+RFA/TACE$", "IM+RFA/TACE vs IM", names(coef(cox))))
fwrite(data.table(term = terms, coef = unname(coef(cox)), se = unname(sqrt(diag(vcov(cox))))),
       file.path(out_dir, "cox.csv"))
fwrite(data.table(quantity = c("raw patients", "quarantined", "eligible", "logrank chisq", "km strata"),
                  value = c(raw_patients, nrow(quarantined), nrow(eligible), logrank$chisq, length(km$strata))),
       file.path(out_dir, "counts.csv"))
