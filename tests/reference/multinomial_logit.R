# Reference for gistlm.estimators.multinomial_logit: the weighted multinomial logit of three
# groups, fitted exactly through its Poisson form (the multinomial likelihood is the Poisson
# likelihood of the group indicators with a free intercept per patient; glm's IRLS is Newton's
# method here, iterated to 1e-14). Data: R's `lung`, groups ph.ecog 0/1/2 (0 the reference),
# covariates age, sex and wt.loss, frequency weights 1, 2, 3, 1, 2, 3, ... by row.
# Run: Rscript multinomial_logit.R (writes the two CSVs beside it).
library(survival)
data <- lung[lung$ph.ecog %in% 0:2 & complete.cases(lung[, c("age", "sex", "wt.loss", "ph.ecog")]),
             c("age", "sex", "wt.loss", "ph.ecog")]
data$sex <- as.numeric(data$sex == 2)
data$wt.loss <- as.numeric(data$wt.loss)
data$weight <- rep_len(1:3, nrow(data))
long <- data.frame(patient = factor(rep(seq_len(nrow(data)), each = 3)), group = rep(0:2, nrow(data)))
long$y <- as.numeric(data$ph.ecog[as.integer(long$patient)] == long$group)
long$weight <- data$weight[as.integer(long$patient)]
for (covariate in c("age", "sex", "wt.loss")) long[[covariate]] <- data[[covariate]][as.integer(long$patient)]
for (g in 1:2) {
  member <- as.numeric(long$group == g)
  long[[paste0("intercept_", g)]] <- member
  for (covariate in c("age", "sex", "wt.loss")) long[[paste0(covariate, "_", g)]] <- member * long[[covariate]]
}
terms <- c("intercept", "age", "sex", "wt.loss")
fit <- glm(reformulate(c("0", "patient", paste0(rep(terms, 2), "_", rep(1:2, each = 4))), "y"),
           family = poisson, data = long, weights = weight, control = glm.control(epsilon = 1e-14, maxit = 100))
stopifnot(fit$converged)
coefficients <- data.frame(term = terms,
                           group_1 = sprintf("%.15g", coef(fit)[paste0(terms, "_1")]),
                           group_2 = sprintf("%.15g", coef(fit)[paste0(terms, "_2")]))
write.csv(data, "multinomial_logit_lung_input.csv", row.names = FALSE)
write.csv(coefficients, "multinomial_logit_lung_coefficients.csv", row.names = FALSE, quote = FALSE)
