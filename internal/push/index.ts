export type { PushLink, Delivery, DeliveryEvent, DeliverySink } from "./push-link.ts";
